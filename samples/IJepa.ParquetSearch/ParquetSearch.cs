using System.Globalization;
using System.Text;
using DuckDB.NET.Data;

namespace IJepa.ParquetSearch;

/// <summary>One result of <see cref="ParquetSearch.TopK"/>.</summary>
/// <param name="Query">Index of the query vector.</param>
/// <param name="Rank">1 for the most similar row.</param>
/// <param name="Path">The row's <c>path</c>.</param>
/// <param name="Score">Cosine similarity of the row's <c>pooled</c> and the query.</param>
public sealed record SearchHit(int Query, int Rank, string Path, float Score);

/// <summary>
/// Exact top-k cosine search over FeatureDump's Parquet output, run inside DuckDB: the table is streamed through
/// DuckDB's scan and a bounded top-k aggregate per query, so .NET only ever holds the queries and the hits.
/// </summary>
public static class ParquetSearch
{
    /// <summary>The <c>read_parquet</c> source for a dataset folder (its part files) or a single file.</summary>
    public static string Source(string dataset) =>
        Directory.Exists(dataset) ? Path.Combine(Path.GetFullPath(dataset), "*.parquet") : Path.GetFullPath(dataset);

    /// <summary>The <paramref name="k"/> rows most similar to each query, best first, for every query in one scan.</summary>
    public static IReadOnlyList<SearchHit> TopK(string dataset, IReadOnlyList<float[]> queries, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfZero(queries.Count);
        int dimension = queries[0].Length;
        var values = new StringBuilder();
        for (int q = 0; q < queries.Count; q++)
        {
            values.Append(q == 0 ? "" : ", ").Append('(').Append(q).Append(", [")
                .AppendJoin(", ", queries[q].Select(v => v.ToString("R", CultureInfo.InvariantCulture)))
                .Append(CultureInfo.InvariantCulture, $"]::FLOAT[{dimension}])");
        }
        // Parquet stores pooled as a list; the cast to FLOAT[n] gives DuckDB's fixed-size array functions.
        string sql = $"""
            WITH q(id, v) AS (VALUES {values}),
            top AS (
                SELECT q.id, max_by({"{"}'path': t.path, 'score': array_cosine_similarity(t.pooled::FLOAT[{dimension}], q.v){"}"},
                                    array_cosine_similarity(t.pooled::FLOAT[{dimension}], q.v), {k}) AS hits
                FROM read_parquet('{Source(dataset).Replace("'", "''", StringComparison.Ordinal)}') t, q
                GROUP BY q.id)
            SELECT id, unnest(hits, recursive := true) FROM top ORDER BY id
            """;
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using DuckDBCommand command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var hits = new List<SearchHit>();
        int rank = 0, last = -1;
        while (reader.Read())
        {
            int id = reader.GetInt32(0);
            rank = id == last ? rank + 1 : 1;
            last = id;
            hits.Add(new SearchHit(id, rank, reader.GetString(1), reader.GetFloat(2)));
        }
        return hits;
    }
}
