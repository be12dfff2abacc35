using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IJepa.Parquet;

/// <summary>
/// One shard's share of a Parquet dataset folder, written so that a run killed at any moment can be rerun and
/// resumed. Rows go into part files (<c>part-{i}-of-{N}-{seq}.parquet</c>) that are written under a hidden
/// temporary name and renamed once complete; before the rename, the part and the inputs it holds (and the
/// inputs that failed) are appended to the shard's manifest (<c>_manifest-{i}-of-{N}.jsonl</c>) and flushed to disk.
/// </summary>
/// <remarks>
/// <para>So every visible part is complete and listed in the manifest, and its inputs are done. Reopening the folder
/// deletes temporary files, truncates a torn last manifest line, and counts an input as done only when its part file
/// exists, so a crash loses at most the part being written and no input is in two visible parts.</para>
/// <para>A shard is finished when <c>_SUCCESS-{i}-of-{N}.json</c> exists; it is removed when the shard is reopened.
/// Files starting with <c>_</c> or <c>.</c> are ignored by Spark, pyarrow and the <c>*.parquet</c> glob of DuckDB.
/// A lock file keeps two processes off one shard (an advisory lock the system drops when a process dies).</para>
/// </remarks>
public sealed class ShardedParquetOutput : IDisposable
{
    private const string Format = "ijepa-parquet-manifest/1";
    private readonly EmbeddingParquetOptions _options;
    private readonly int _partRows;
    private readonly FileStream _lock;
    private readonly FileStream _manifest;
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _failed = new(StringComparer.Ordinal);
    private readonly List<string> _partInputs = [];
    private readonly List<KeyValuePair<string, string>> _partFailures = [];
    private EmbeddingParquetWriter? _part;
    private string? _partTemporary;
    private int _nextSequence;
    private bool _completed;

    private ShardedParquetOutput(string folder, Shard shard, EmbeddingParquetOptions options, int partRows, FileStream lockFile, FileStream manifest)
    {
        Folder = folder;
        Shard = shard;
        _options = options;
        _partRows = partRows;
        _lock = lockFile;
        _manifest = manifest;
    }

    /// <summary>The dataset folder.</summary>
    public string Folder { get; }

    /// <summary>This output's shard.</summary>
    public Shard Shard { get; }

    /// <summary>Inputs (keys) finished by earlier runs or this one: written to a visible part, or failed.</summary>
    public IReadOnlySet<string> Done => _done;

    /// <summary>Inputs that failed, with the reason, in earlier runs or this one (committed with a part).</summary>
    public IReadOnlyDictionary<string, string> Failed => _failed;

    /// <summary>Rows in visible parts of this shard, from earlier runs and this one.</summary>
    public long CommittedRows { get; private set; }

    /// <summary>The manifest file of this shard.</summary>
    public string ManifestPath => System.IO.Path.Combine(Folder, $"_manifest-{Shard.FileTag}.jsonl");

    /// <summary>The marker written by <see cref="Complete"/>.</summary>
    public string SuccessPath => System.IO.Path.Combine(Folder, $"_SUCCESS-{Shard.FileTag}.json");

    /// <summary>
    /// Opens (creating if needed) the shard's share of <paramref name="folder"/>, resuming what earlier runs finished
    /// when their manifest was written with the same options and <paramref name="settings"/>.
    /// </summary>
    /// <param name="folder">The dataset folder (e.g. <c>embeddings.parquet</c>).</param>
    /// <param name="shard">This process's shard.</param>
    /// <param name="options">The file shape and provenance; part of what must match to resume.</param>
    /// <param name="settings">Anything else that changes the values (dtype, preprocessing); must match to resume.</param>
    /// <param name="partRows">Rows per part file: what a crash can lose at most.</param>
    /// <param name="restart">Delete this shard's earlier parts and manifest instead of resuming.</param>
    /// <exception cref="IJepaParquetException">The shard is held by another process, or its manifest is damaged or was written by a different command.</exception>
    /// <exception cref="IOException">The folder cannot be created or written.</exception>
    public static ShardedParquetOutput Open(string folder, Shard shard, EmbeddingParquetOptions options, string settings, int partRows = 1024, bool restart = false)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(partRows, 1);
        folder = System.IO.Path.GetFullPath(folder);
        if (File.Exists(folder))
        {
            throw new IJepaParquetException(folder, "is a file; Parquet output here is a folder of part files (a dataset), remove the file or choose another --out");
        }
        Directory.CreateDirectory(folder);
        string tag = shard.FileTag;
        FileStream lockFile;
        string lockPath = System.IO.Path.Combine(folder, $"_lock-{tag}");
        try
        {
            // FileShare.None takes an advisory flock on Unix: released by the kernel even on kill -9.
            lockFile = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IJepaParquetException(lockPath, $"shard {shard} is being written by another process", e);
        }
        try
        {
            string header = JsonSerializer.Serialize(new JsonObject
            {
                ["format"] = Format,
                ["shard"] = shard.ToString(),
                ["model"] = options.ModelId,
                ["revision"] = options.Revision,
                ["dimension"] = options.Dimension,
                ["patch_tokens"] = options.PatchTokens,
                ["settings"] = settings,
            });
            string manifestPath = System.IO.Path.Combine(folder, $"_manifest-{tag}.jsonl");
            foreach (string stale in Directory.EnumerateFiles(folder, $".part-{tag}-*"))
            {
                File.Delete(stale);
            }
            File.Delete(System.IO.Path.Combine(folder, $"_SUCCESS-{tag}.json"));
            if (restart)
            {
                File.Delete(manifestPath);
            }
            var output = new ShardedParquetOutput(folder, shard, options, partRows, lockFile, OpenManifest(manifestPath, header, out List<JsonObject> entries));
            output.Recover(entries);
            return output;
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    private static FileStream OpenManifest(string path, string header, out List<JsonObject> entries)
    {
        entries = [];
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            byte[] bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            // A kill during an append leaves a torn last line: cut it, or the next append would extend it.
            int complete = Array.LastIndexOf(bytes, (byte)'\n') + 1;
            string[] lines = Encoding.UTF8.GetString(bytes, 0, complete).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (lines.Length == 0)
            {
                stream.SetLength(0);
                Append(stream, header);
                return stream;
            }
            if (lines[0] != header)
            {
                throw new IJepaParquetException(path, $"was written by a different command: its settings are {lines[0]}, this run's are {header}; pass --restart to discard it, or choose another --out");
            }
            for (int i = 1; i < lines.Length; i++)
            {
                try
                {
                    entries.Add(JsonNode.Parse(lines[i])!.AsObject());
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
                {
                    throw new IJepaParquetException(path, $"line {i + 1} is not a manifest entry ({e.Message}); the manifest is damaged, pass --restart to redo this shard");
                }
            }
            stream.SetLength(complete);
            stream.Position = complete;
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private void Recover(List<JsonObject> entries)
    {
        var listed = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonObject entry in entries)
        {
            string? part = (string?)entry["part"];
            int sequence = (int?)entry["sequence"] ?? -1;
            _nextSequence = Math.Max(_nextSequence, sequence + 1);
            // An entry whose part was never renamed into place (killed in between) finished nothing.
            if (part is not null && !File.Exists(System.IO.Path.Combine(Folder, part)))
            {
                continue;
            }
            if (part is not null)
            {
                listed.Add(part);
                CommittedRows += (long?)entry["rows"] ?? 0;
            }
            foreach (JsonNode? input in entry["inputs"]?.AsArray() ?? [])
            {
                _done.Add((string)input!);
            }
            foreach ((string key, JsonNode? reason) in entry["failed"]?.AsObject() ?? [])
            {
                _done.Add(key);
                _failed[key] = (string?)reason ?? "";
            }
        }
        // Parts of this shard that no manifest entry lists are left over from a --restart or were put there by hand.
        foreach (string file in Directory.EnumerateFiles(Folder, $"part-{Shard.FileTag}-*.parquet"))
        {
            if (!listed.Contains(System.IO.Path.GetFileName(file)))
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>Adds an encoded image; a part is committed every <c>partRows</c> rows.</summary>
    public void Add(EmbeddingRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_part is null)
        {
            _partTemporary = System.IO.Path.Combine(Folder, $".part-{Shard.FileTag}-{_nextSequence:D6}.parquet.tmp");
            _part = EmbeddingParquetWriter.Create(_partTemporary, _options);
        }
        _part.Write(record);
        _partInputs.Add(record.Path);
        if (_part.Rows >= _partRows)
        {
            Commit();
        }
    }

    /// <summary>Records an input that could not be encoded; it is committed with the next part and not retried on resume.</summary>
    public void AddFailure(string key, string reason)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        _partFailures.Add(new(key, reason));
    }

    /// <summary>Commits the rows and failures added since the last commit (nothing when there are none).</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_part is null && _partFailures.Count == 0)
        {
            return;
        }
        string? name = null;
        long rows = 0;
        if (_part is not null)
        {
            rows = _part.Rows;
            _part.Close();
            _part.Dispose();
            _part = null;
            using (var sync = new FileStream(_partTemporary!, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
            {
                sync.Flush(flushToDisk: true);
            }
            name = $"part-{Shard.FileTag}-{_nextSequence:D6}.parquet";
        }
        var failed = new JsonObject();
        foreach ((string key, string reason) in _partFailures)
        {
            failed[key] = reason;
        }
        var entry = new JsonObject
        {
            ["sequence"] = _nextSequence,
            ["part"] = name,
            ["rows"] = rows,
            ["inputs"] = new JsonArray([.. _partInputs.Select(p => (JsonNode)p)]),
            ["failed"] = failed,
        };
        Append(_manifest, entry.ToJsonString());
        if (name is not null)
        {
            File.Move(_partTemporary!, System.IO.Path.Combine(Folder, name));
            CommittedRows += rows;
        }
        _done.UnionWith(_partInputs);
        foreach ((string key, string reason) in _partFailures)
        {
            _done.Add(key);
            _failed[key] = reason;
        }
        _partInputs.Clear();
        _partFailures.Clear();
        _partTemporary = null;
        _nextSequence++;
    }

    /// <summary>Commits what is left and writes the shard's <c>_SUCCESS</c> marker (rows, parts, failures).</summary>
    public void Complete()
    {
        Commit();
        var failed = new JsonObject();
        foreach ((string key, string reason) in _failed.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            failed[key] = reason;
        }
        string marker = new JsonObject
        {
            ["shard"] = Shard.ToString(),
            ["rows"] = CommittedRows,
            ["failed"] = failed,
        }.ToJsonString();
        string temporary = System.IO.Path.Combine(Folder, $".part-{Shard.FileTag}-success.tmp");
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(marker));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, SuccessPath, overwrite: true);
        _completed = true;
    }

    /// <summary>Releases the shard; an unfinished part is deleted (its inputs are redone on the next run).</summary>
    public void Dispose()
    {
        _part?.Dispose();
        _part = null;
        if (_partTemporary is not null)
        {
            File.Delete(_partTemporary);
        }
        _manifest.Dispose();
        _lock.Dispose();
        _completed = true;
    }

    private static void Append(FileStream stream, string line)
    {
        stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
        stream.Flush(flushToDisk: true);
    }
}
