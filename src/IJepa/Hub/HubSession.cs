using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace IJepa.Hub;

/// <summary>What a HEAD on <c>/resolve/</c> says about a file.</summary>
/// <param name="Commit">The commit the revision resolved to (<c>X-Repo-Commit</c>).</param>
/// <param name="Etag">The blob name: the LFS object's SHA-256 (<c>X-Linked-Etag</c>) or the git blob hash (<c>ETag</c>), unquoted.</param>
/// <param name="Size">The file's size (<c>X-Linked-Size</c>, else <c>Content-Length</c>).</param>
/// <param name="DownloadUrl">Where its bytes are: the CDN address of the redirect, else the resolve address.</param>
internal sealed record HubFileMetadata(string Commit, string Etag, long Size, Uri DownloadUrl);

/// <summary>The hub's HTTP protocol as huggingface_hub speaks it, and downloads into the cache's blobs.</summary>
internal sealed class HubSession : IDisposable
{
    private const int ChunkBytes = 4 << 20;
    private static readonly string UserAgent = "ijepa-dotnet/" + (typeof(HubSession).Assembly.GetName().Version?.ToString(3) ?? "0");
    private readonly HttpClient _http;
    private readonly HubOptions _options;
    private readonly HubSettings _settings;

    public HubSession(HubOptions options, HubSettings settings)
    {
        _options = options;
        _settings = settings;
        // Redirects are followed by hand: the metadata is on the hub's redirect, and the token must not go to the CDN.
        HttpMessageHandler handler = options.HttpHandler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler, disposeHandler: options.HttpHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public void Dispose() => _http.Dispose();

    public Uri ResolveUrl(string repoId, string revision, string file)
    {
        // As hf_hub_url: the revision is one escaped segment ("refs/pr/1" → "refs%2Fpr%2F1"), the file keeps its slashes.
        string path = $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}";
        return new Uri(_settings.Endpoint, path);
    }

    private HttpRequestMessage Request(HttpMethod method, Uri url, bool withToken)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        // Sizes and hashes are those of the stored bytes: no compressed transfer.
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        if (withToken && _settings.Token is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return request;
    }

    /// <summary>HEAD on the file's resolve address, following only redirects within the hub (renamed repositories).</summary>
    /// <exception cref="HubException">Not found, no access, no answer, or an answer without the hub's headers.</exception>
    public async Task<HubFileMetadata> GetMetadataAsync(string repoId, string revision, string file, CancellationToken cancellationToken)
    {
        Uri url = ResolveUrl(repoId, revision, file);
        for (int attempt = 0; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(Request(HttpMethod.Head, url, withToken: true), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                for (int hops = 0; IsRedirect(response.StatusCode) && response.Headers.Location is { IsAbsoluteUri: false } relative && hops < 10; hops++)
                {
                    url = new Uri(url, relative);
                    response.Dispose();
                    response = await _http.SendAsync(Request(HttpMethod.Head, url, withToken: true), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (HttpRequestException e)
            {
                // No retries here: an unreachable hub should fall back to the cache at once, as huggingface_hub does.
                throw new HubException(HubErrorKind.ConnectionFailed, repoId, file, $"{repoId}: cannot reach {_settings.Endpoint} for {file}: {e.Message}", e);
            }
            using (response)
            {
                if (IsRetryable(response.StatusCode) && attempt < _options.MaxRetries)
                {
                    await Task.Delay(RetryDelay(response, attempt), cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (!response.IsSuccessStatusCode && !IsRedirect(response.StatusCode))
                {
                    throw Error(response, repoId, revision, file);
                }
                string? commit = Header(response, "X-Repo-Commit");
                string? etag = Header(response, "X-Linked-Etag") ?? Header(response, "ETag");
                string? sizeText = Header(response, "X-Linked-Size") ?? response.Content.Headers.ContentLength?.ToString(CultureInfo.InvariantCulture);
                if (commit is null || etag is null || !long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out long size))
                {
                    string lacking = string.Join(", ", new[] { ("X-Repo-Commit", commit), ("ETag", etag), ("size", sizeText) }.Where(h => h.Item2 is null).Select(h => h.Item1));
                    throw new HubException(HubErrorKind.BadResponse, repoId, file,
                        $"{url}: the answer lacks {lacking}; {_settings.Endpoint} does not look like a Hugging Face hub (check HF_ENDPOINT), or a proxy strips headers.");
                }
                etag = NormalizeEtag(etag);
                if (!HubFiles.IsSafeName(etag) || etag.Contains('/', StringComparison.Ordinal) || !HubModelId.IsCommitHash(commit))
                {
                    throw new HubException(HubErrorKind.BadResponse, repoId, file, $"{url}: unusable commit '{commit}' or ETag '{etag}'.");
                }
                Uri download = IsRedirect(response.StatusCode) && response.Headers.Location is { } location ? new Uri(url, location) : url;
                return new HubFileMetadata(commit, etag, size, download);
            }
        }
    }

    /// <summary>huggingface_hub's normalisation: a weak validator's <c>W/</c> and the quotes go.</summary>
    public static string NormalizeEtag(string etag)
    {
        string value = etag.Trim();
        if (value.StartsWith("W/", StringComparison.Ordinal))
        {
            value = value[2..];
        }
        return value.Trim('"');
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault(v => v.Length > 0)
            : null;

    private static bool IsRedirect(HttpStatusCode status) => (int)status is >= 300 and <= 399;

    private static bool IsRetryable(HttpStatusCode status) => status == HttpStatusCode.TooManyRequests || (int)status >= 500;

    private TimeSpan RetryDelay(HttpResponseMessage? response, int attempt)
    {
        if (response?.Headers.RetryAfter is { } retryAfter)
        {
            TimeSpan? wait = retryAfter.Delta ?? (retryAfter.Date - DateTimeOffset.UtcNow);
            if (wait is { } w)
            {
                return w < TimeSpan.Zero ? TimeSpan.Zero : w > TimeSpan.FromMinutes(5) ? TimeSpan.FromMinutes(5) : w;
            }
        }
        double seconds = Math.Min(_options.BackoffBase.TotalSeconds * Math.Pow(2, attempt), 30);
        return TimeSpan.FromSeconds(seconds);
    }

    private HubException Error(HttpResponseMessage response, string repoId, string revision, string file)
    {
        int status = (int)response.StatusCode;
        string? code = Header(response, "X-Error-Code");
        string? serverMessage = Header(response, "X-Error-Message");
        string said = $"{status}{(code is null ? "" : " " + code)}{(serverMessage is null ? "" : ": " + serverMessage)}";
        string page = new Uri(_settings.Endpoint, repoId).ToString();
        bool hasToken = _settings.Token is not null;
        string tokenHelp = hasToken
            ? "the token in use (HF_TOKEN or the token file) has no access to it"
            : "no token was sent: set HF_TOKEN to a token from https://huggingface.co/settings/tokens (or run `huggingface-cli login`)";
        return code switch
        {
            "GatedRepo" => new HubException(HubErrorKind.AccessDenied, repoId, file,
                $"{repoId} is a gated model ({said}): accept its licence on {page} while logged in, then "
                + (hasToken ? "make sure the token in use (HF_TOKEN or the token file) belongs to that account." : "set HF_TOKEN to a token of that account (or run `huggingface-cli login`).")),
            "RevisionNotFound" => new HubException(HubErrorKind.RevisionNotFound, repoId, file,
                $"{repoId}: revision '{revision}' does not exist ({said}); use a branch, a tag or a full commit hash listed on {page}."),
            "EntryNotFound" => new HubException(HubErrorKind.FileNotFound, repoId, file,
                $"{repoId}@{revision}: the repository has no file {file} ({said})."),
            "RepoNotFound" => new HubException(HubErrorKind.RepositoryNotFound, repoId, file,
                $"{repoId}: no such repository on {_settings.Endpoint} ({said}). Check the id; if it is private, {tokenHelp}."),
            _ when status is 401 or 403 => new HubException(HubErrorKind.AccessDenied, repoId, file,
                $"{repoId}: access denied ({said}); it may be private or gated: {tokenHelp}; for a gated model, accept its licence on {page}."),
            _ when status == 404 => new HubException(HubErrorKind.RepositoryNotFound, repoId, file,
                $"{repoId}: {file} not found on {_settings.Endpoint} ({said}). Check the id and the revision '{revision}'."),
            _ => new HubException(HubErrorKind.ServerError, repoId, file,
                $"{repoId}: {_settings.Endpoint} answered {said} for {file}" + (IsRetryable(response.StatusCode) ? $" after {_options.MaxRetries} retries." : ".")),
        };
    }

    /// <summary>
    /// Downloads the file into its blob: under the blob's lock, into <c>blob.incomplete</c>
    /// (resumed from its length), verified against the ETag, then renamed into place.
    /// </summary>
    public async Task DownloadBlobAsync(HubCache cache, string repoId, string file, HubFileMetadata metadata, CancellationToken cancellationToken)
    {
        string blobPath = cache.BlobPath(metadata.Etag);
        using FileStream lockFile = await LockAsync(cache.LockPath(metadata.Etag), cancellationToken).ConfigureAwait(false);
        if (File.Exists(blobPath))
        {
            return; // another process finished it while we waited for the lock
        }
        Directory.CreateDirectory(Path.GetDirectoryName(blobPath)!);
        string partial = blobPath + ".incomplete";
        bool verified = false;
        var output = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        try
        {
            long position = output.Length;
            if (position > metadata.Size)
            {
                output.SetLength(0);
                position = 0;
            }
            CheckFreeSpace(repoId, file, blobPath, metadata.Size - position);
            var hash = new ContentHash(metadata.Etag, metadata.Size);
            if (position > 0)
            {
                // Left by an interrupted process: only the local prefix is read again, not the network.
                hash.AppendFile(output, position);
            }
            await FetchAsync(repoId, file, metadata, output, hash, position, cancellationToken).ConfigureAwait(false);
            if (hash.Mismatch() is { } actual)
            {
                output.Dispose();
                File.Delete(partial);
                throw new HubException(HubErrorKind.HashMismatch, repoId, file,
                    $"{repoId}: the downloaded {file} has {hash.Algorithm} {actual}, but the hub says {metadata.Etag}; the partial file was deleted. Run again; if it repeats, the mirror (HF_ENDPOINT) or a proxy is serving wrong bytes.");
            }
            verified = true;
        }
        finally
        {
            output.Dispose();
        }
        if (verified)
        {
            // The rename is atomic: a blob that exists is always whole and verified.
            File.Move(partial, blobPath, overwrite: true);
        }
    }

    private void CheckFreeSpace(string repoId, string file, string blobPath, long needed)
    {
        string folder = Path.GetDirectoryName(blobPath)!;
        long free;
        try
        {
            free = _options.FreeSpaceProbe?.Invoke(folder) ?? new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return; // a file system that cannot say; writing will tell
        }
        if (free < needed)
        {
            throw new HubException(HubErrorKind.DiskFull, repoId, file,
                $"{repoId}: {file} needs {Megabytes(needed)} more in {folder}, but only {Megabytes(free)} is free. Free some space or point HF_HUB_CACHE elsewhere.");
        }
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F1} MB");

    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        int delay = 20;
        while (true)
        {
            try
            {
                // FileShare.None takes flock(LOCK_EX) on Unix, the lock Python's filelock takes on the same file.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException e) when (e.HResult is 11 or 35 or 32 or unchecked((int)0x80070020))
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = Math.Min(delay * 2, 500);
            }
        }
    }

    private async Task FetchAsync(string repoId, string file, HubFileMetadata metadata, FileStream output, ContentHash hash, long position, CancellationToken cancellationToken)
    {
        var progress = new ProgressThrottle(_options.Progress, repoId, file, metadata.Size);
        progress.Report(position, force: true);
        int failures = 0;
        do
        {
            long before = position;
            try
            {
                position = await FetchOnceAsync(metadata, output, hash, position, progress, cancellationToken).ConfigureAwait(false);
                if (position < metadata.Size)
                {
                    throw new IOException($"the body ended at byte {position} of {metadata.Size}");
                }
            }
            catch (RetryableStatusException e)
            {
                if (++failures > _options.MaxRetries)
                {
                    throw new HubException(HubErrorKind.ServerError, repoId, file,
                        $"{repoId}: {metadata.DownloadUrl.Host} answered {(int)e.Status} to every one of {_options.MaxRetries + 1} tries for {file}; {position} of {metadata.Size} bytes are kept for the next run.", e);
                }
                await Task.Delay(e.RetryAfter ?? RetryDelay(null, failures - 1), cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (IOException e) when (IsDiskFull(e))
            {
                throw new HubException(HubErrorKind.DiskFull, repoId, file,
                    $"{repoId}: the disk filled up while writing {file} ({e.Message}); {output.Name} ({output.Length} bytes) is kept so that the next run resumes; delete it to free the space.", e);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpRequestException or IOException or OperationCanceledException)
            {
                // A cut connection or a stalled read: resume with Range from what is on disk.
                position = hash.Position;
                failures = position > before ? 1 : failures + 1;
                if (failures > _options.MaxRetries)
                {
                    throw new HubException(HubErrorKind.ConnectionFailed, repoId, file,
                        $"{repoId}: downloading {file} from {metadata.DownloadUrl.Host} failed {failures} times in a row ({e.Message}); {position} of {metadata.Size} bytes are kept for the next run.", e);
                }
                await Task.Delay(RetryDelay(null, failures - 1), cancellationToken).ConfigureAwait(false);
            }
        }
        while (position < metadata.Size);
        progress.Report(position, force: true);
    }

    private static bool IsDiskFull(IOException e) =>
        e.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027) || e.Message.Contains("No space left", StringComparison.Ordinal);

    /// <summary>One GET from <paramref name="position"/> on; returns the new position. Partial data is kept on failure.</summary>
    private async Task<long> FetchOnceAsync(HubFileMetadata metadata, FileStream output, ContentHash hash, long position, ProgressThrottle progress, CancellationToken cancellationToken)
    {
        Uri url = metadata.DownloadUrl;
        HttpResponseMessage response = await GetAsync(url, position, metadata.Size, cancellationToken).ConfigureAwait(false);
        using (response)
        {
            if (IsRetryable(response.StatusCode))
            {
                throw new RetryableStatusException(response.StatusCode, response.Headers.RetryAfter is null ? null : RetryDelay(response, 0));
            }
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && position == metadata.Size)
            {
                return position;
            }
            if (response.StatusCode == HttpStatusCode.OK && position > 0)
            {
                // The server ignored Range: start over rather than append a second copy.
                output.SetLength(0);
                hash.Reset();
                position = 0;
            }
            else if (response.StatusCode == HttpStatusCode.PartialContent)
            {
                if (response.Content.Headers.ContentRange?.From is long from && from != position)
                {
                    throw new IOException($"asked for bytes from {position}, got a range from {from}");
                }
            }
            else if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new HttpRequestException($"{url.Host} answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
            }
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                return await CopyAsync(body, output, hash, position, metadata.Size, progress, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<HttpResponseMessage> GetAsync(Uri url, long position, long size, CancellationToken cancellationToken)
    {
        Uri origin = url;
        for (int hops = 0; ; hops++)
        {
            // The token goes to the hub only, never to the CDN a redirect names.
            bool sameHost = Uri.Compare(url, _settings.Endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
            HttpRequestMessage request = Request(HttpMethod.Get, url, withToken: sameHost);
            if (position > 0)
            {
                request.Headers.Range = new RangeHeaderValue(position, size > position ? size - 1 : null);
            }
            HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (IsRedirect(response.StatusCode) && response.Headers.Location is { } location && hops < 10)
            {
                url = new Uri(url, location);
                response.Dispose();
                continue;
            }
            if (hops >= 10)
            {
                response.Dispose();
                throw new HttpRequestException($"more than 10 redirects from {origin}");
            }
            return response;
        }
    }

    /// <summary>
    /// Streams the body into the file at <paramref name="position"/>: the next chunk is read from the
    /// network while the current one is written and hashed, through two fixed buffers. Bytes received
    /// before a failure are written before the failure is thrown, so a retry resumes after them.
    /// </summary>
    private async Task<long> CopyAsync(Stream body, FileStream output, ContentHash hash, long position, long size, ProgressThrottle progress, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        byte[][] buffers = [new byte[ChunkBytes], new byte[ChunkBytes]];
        int current = 0;
        Task<Chunk> pending = FillAsync(body, buffers[current], position, size, progress, stall);
        while (true)
        {
            Chunk chunk = await pending.ConfigureAwait(false);
            int next = current ^ 1;
            if (chunk.Error is null && chunk.Count > 0)
            {
                pending = FillAsync(body, buffers[next], position + chunk.Count, size, progress, stall);
            }
            try
            {
                RandomAccess.Write(output.SafeFileHandle, buffers[current].AsSpan(0, chunk.Count), position);
            }
            catch (IOException)
            {
                if (chunk.Error is null && chunk.Count > 0)
                {
                    stall.Cancel();
                    await pending.ConfigureAwait(false); // never throws: failures come back in the chunk
                }
                throw;
            }
            hash.Append(buffers[current].AsSpan(0, chunk.Count));
            position += chunk.Count;
            if (chunk.Error is { } error)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            }
            if (chunk.Count == 0)
            {
                return position;
            }
            current = next;
        }
    }

    private readonly record struct Chunk(int Count, Exception? Error);

    private async Task<Chunk> FillAsync(Stream body, byte[] buffer, long position, long size, ProgressThrottle progress, CancellationTokenSource stall)
    {
        int wanted = (int)Math.Min(buffer.Length, Math.Max(size - position, 0));
        int filled = 0;
        try
        {
            while (filled < wanted)
            {
                stall.CancelAfter(_options.ReadTimeout);
                int read = await body.ReadAsync(buffer.AsMemory(filled, wanted - filled), stall.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                filled += read;
                progress.Report(position + filled, force: false);
            }
            return new Chunk(filled, null);
        }
        catch (Exception e)
        {
            return new Chunk(filled, e);
        }
    }

    private sealed class RetryableStatusException(HttpStatusCode status, TimeSpan? retryAfter) : Exception($"status {(int)status}")
    {
        public HttpStatusCode Status { get; } = status;

        public TimeSpan? RetryAfter { get; } = retryAfter;
    }

    /// <summary>Rate-limits progress reports to a few a second.</summary>
    private sealed class ProgressThrottle(IProgress<HubDownloadProgress>? sink, string repoId, string file, long total)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _last = TimeSpan.FromSeconds(-1);

        public void Report(long done, bool force)
        {
            if (sink is null || (!force && _clock.Elapsed - _last < TimeSpan.FromMilliseconds(200)))
            {
                return;
            }
            _last = _clock.Elapsed;
            sink.Report(new HubDownloadProgress(repoId, file, done, total));
        }
    }
}

/// <summary>
/// The hash the ETag names: SHA-256 of the bytes for an LFS file (64 hex digits), git's blob SHA-1
/// ("blob SIZE\0" + bytes) for a small one (40), nothing to check for anything else (a mirror's own ETags).
/// </summary>
internal sealed class ContentHash
{
    private readonly string _etag;
    private readonly long _size;
    private IncrementalHash? _hash;

    public ContentHash(string etag, long size)
    {
        _etag = etag.ToLowerInvariant();
        _size = size;
        Reset();
    }

    public string Algorithm => _etag.Length == 64 ? "SHA-256" : "git SHA-1";

    /// <summary>Bytes hashed so far.</summary>
    public long Position { get; private set; }

    public void Reset()
    {
        _hash?.Dispose();
        Position = 0;
        _hash = _etag.Length switch
        {
            64 when _etag.All(char.IsAsciiHexDigit) => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
            40 when _etag.All(char.IsAsciiHexDigit) => IncrementalHash.CreateHash(HashAlgorithmName.SHA1),
            _ => null,
        };
        if (_etag.Length == 40)
        {
            _hash?.AppendData(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"blob {_size}\0")));
        }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        _hash?.AppendData(data);
        Position += data.Length;
    }

    public void AppendFile(FileStream file, long length)
    {
        byte[] buffer = new byte[1 << 20];
        for (long offset = 0; offset < length;)
        {
            int read = RandomAccess.Read(file.SafeFileHandle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - offset)), offset);
            if (read == 0)
            {
                throw new IOException($"{file.Name} shrank while being read");
            }
            Append(buffer.AsSpan(0, read));
            offset += read;
        }
    }

    /// <summary>The actual digest when it differs from the ETag, else null.</summary>
    public string? Mismatch()
    {
        if (_hash is null)
        {
            return null;
        }
        string actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
        return actual == _etag ? null : actual;
    }
}
