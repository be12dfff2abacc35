using System.Diagnostics;
using IJepa.Parquet;
using IJepa.ParquetSearch;
using Search = IJepa.ParquetSearch.ParquetSearch;

namespace IJepa.Benchmarks;

/// <summary>
/// Exact top-k with DuckDB over a synthetic Parquet dataset (default 1,000,000 rows × 1,280 dims, written by
/// <see cref="EmbeddingParquetWriter"/>), for 1 and several queries; reports the .NET bytes allocated during the
/// search to show the table never comes into .NET memory.
/// </summary>
internal static class ParquetTopKBenchmark
{
    public static int Run(string folder, int rows, int dimension, int[] queryCounts, int k)
    {
        Directory.CreateDirectory(folder);
        var random = new Random(1280);
        if (Directory.GetFiles(folder, "*.parquet").Length == 0)
        {
            var options = new EmbeddingParquetOptions { Dimension = dimension, ModelId = "synthetic", RowGroupRows = 1024 };
            var watch = Stopwatch.StartNew();
            const int perFile = 100_000;
            for (int start = 0; start < rows; start += perFile)
            {
                using EmbeddingParquetWriter writer = EmbeddingParquetWriter.Create(Path.Combine(folder, $"part-{start / perFile:D4}.parquet"), options);
                for (int i = start; i < Math.Min(rows, start + perFile); i++)
                {
                    float[] v = new float[dimension];
                    for (int d = 0; d < dimension; d++)
                    {
                        v[d] = (float)((random.NextDouble() * 2) - 1);
                    }
                    writer.Write(new EmbeddingRecord($"synthetic/{i:D7}.jpg", 0, "", null, null, v));
                }
                writer.Close();
            }
            Console.WriteLine($"wrote {rows} rows x {dimension} in {watch.Elapsed.TotalSeconds:F1} s ({rows / watch.Elapsed.TotalSeconds:F0} rows/s)");
        }
        long bytes = Directory.GetFiles(folder, "*.parquet").Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"dataset {folder}: {bytes / 1e9:F2} GB");
        foreach (int count in queryCounts)
        {
            float[][] queries = [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, dimension).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray())];
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            var watch = Stopwatch.StartNew();
            IReadOnlyList<SearchHit> hits = Search.TopK(folder, queries, k);
            double seconds = watch.Elapsed.TotalSeconds;
            long managed = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            Console.WriteLine($"top-{k} over {rows} x {dimension}, {count} quer{(count == 1 ? "y" : "ies")}: {seconds:F2} s, {hits.Count} hits, "
                + $".NET allocated {managed / 1e6:F1} MB during the search, peak RSS {Process.GetCurrentProcess().PeakWorkingSet64 / 1e9:F2} GB (DuckDB's native memory included)");
        }
        return 0;
    }
}
