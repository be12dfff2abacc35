using System.Diagnostics;
using System.Globalization;
using IJepa;
using IJepa.ParquetSearch;
using IJepa.Samples;

// Exact top-k search over FeatureDump's Parquet output with DuckDB.
//   dotnet run --project samples/IJepa.ParquetSearch -c Release -- --data embeddings.parquet [--model DIR] [-k 5] <query image>...
const string Usage = """
    usage: IJepa.ParquetSearch --data DIR.parquet [--model DIR] [-k 5] <query image>...
      --data D   FeatureDump's Parquet output (a dataset folder or one file)
      --model M  the model the data was made with (default: the samples' model trained on Fashion-MNIST)
      -k N       hits per query (default 5)
    """;
string? data = null, model = null;
int k = 5;
var queries = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data" when i + 1 < args.Length: data = args[++i]; break;
        case "--model" when i + 1 < args.Length: model = args[++i]; break;
        case "-k" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0: k = n; i++; break;
        default:
            if (args[i].StartsWith('-'))
            {
                return Exit.Usage($"bad option {args[i]}", Usage);
            }
            queries.Add(args[i]);
            break;
    }
}
if (data is null || queries.Count == 0)
{
    return Exit.Usage(data is null ? "--data is required" : "no query images given", Usage);
}
if (!Directory.Exists(data) && !File.Exists(data))
{
    return Exit.Error($"no such file or folder: {data}");
}
model ??= Path.Combine(AppContext.BaseDirectory, "default-model");
try
{
    using IJepaEncoder encoder = IJepaEncoder.Load(model);
    float[][] vectors = [.. queries.Select(q => encoder.Encode(q).Pooled)];
    var watch = Stopwatch.StartNew();
    IReadOnlyList<SearchHit> hits = ParquetSearch.TopK(data, vectors, k);
    foreach (IGrouping<int, SearchHit> group in hits.GroupBy(h => h.Query))
    {
        Console.WriteLine($"query {queries[group.Key]}");
        foreach (SearchHit hit in group)
        {
            Console.WriteLine($"  {hit.Rank,2}.  {hit.Score:F4}  {hit.Path}");
        }
    }
    Console.WriteLine($"searched {ParquetSearch.Source(data)} in {watch.Elapsed.TotalSeconds:F2} s");
    return 0;
}
catch (Exception e) when (e is IOException or ArgumentException or DuckDB.NET.Data.DuckDBException or IJepa.Checkpoints.IJepaCheckpointException)
{
    return Exit.Error(e.Message);
}
