using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace IJepa.Server;

/// <summary>
/// The counters behind GET /metrics, written in Prometheus' text format (version 0.0.4). Hand-made because
/// ASP.NET Core has no Prometheus writer and the handful of series here do not justify a dependency.
/// </summary>
internal sealed class ServerMetrics : IDisposable
{
    // Kestrel's pinned block pool (ASP.NET Core 10 publishes it as a meter): its blocks live on the pinned-object heap,
    // the part of the .NET heap that kept rising under the long overloads (README, Embedding server).
    private const string MemoryPoolMeter = "Microsoft.AspNetCore.MemoryPool";
    private static readonly string[] MemoryPoolEvents = ["allocated", "evicted", "rented"];

    private static readonly double[] LatencyBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] BatchBounds = [1, 2, 4, 8, 16, 32, 64, 128, 256];
    private const int RateWindowSeconds = 10;

    private readonly ConcurrentDictionary<(string Route, int Status), long[]> _requests = new();
    private readonly Histogram _latency = new(LatencyBounds);
    private readonly Histogram _batches = new(BatchBounds);
    private readonly long[] _perSecond = new long[RateWindowSeconds + 1];
    private readonly long[] _secondOf = new long[RateWindowSeconds + 1];
    private readonly object _rateLock = new();
    private long _imagesOk;
    private long _imagesCancelled;
    private long _imagesFailed;
    private long _rejected;
    private long _trimsReleased;
    private long _trimsIdle;
    private readonly ConcurrentDictionary<string, long[]> _memoryPool = new(StringComparer.Ordinal);
    private readonly MeterListener _listener = new();

    public ServerMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MemoryPoolMeter)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        // Summed over the pool's owners (Kestrel's transport, and any other pool made by the same factory).
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            Interlocked.Add(ref _memoryPool.GetOrAdd(instrument.Name, _ => new long[1])[0], value));
        _listener.Start();
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>Images waiting for the model, read when scraped.</summary>
    public Func<int> QueueDepth { get; set; } = () => 0;

    /// <summary>One finished request: its route pattern, status and duration.</summary>
    public void Request(string route, int status, TimeSpan elapsed)
    {
        long[] counter = _requests.GetOrAdd((route, status), _ => new long[1]);
        Interlocked.Increment(ref counter[0]);
        if (route.StartsWith("/embed", StringComparison.Ordinal))
        {
            _latency.Observe(elapsed.TotalSeconds);
        }
    }

    /// <summary>One forward pass of <paramref name="size"/> images.</summary>
    public void Batch(int size)
    {
        _batches.Observe(size);
        Interlocked.Add(ref _imagesOk, size);
        long second = Environment.TickCount64 / 1000;
        lock (_rateLock)
        {
            int slot = (int)(second % _perSecond.Length);
            if (_secondOf[slot] != second)
            {
                _secondOf[slot] = second;
                _perSecond[slot] = 0;
            }
            _perSecond[slot] += size;
        }
    }

    /// <summary>An image refused as unusable (undecodable, too large, ...).</summary>
    public void ImageFailed() => Interlocked.Increment(ref _imagesFailed);

    /// <summary>One return of malloc's free memory to the kernel, and whether it released any.</summary>
    public void NativeTrimmed(bool released) => Interlocked.Increment(ref released ? ref _trimsReleased : ref _trimsIdle);

    /// <summary>An accepted image dropped unworked because its client went away.</summary>
    public void ImageCancelled() => Interlocked.Increment(ref _imagesCancelled);

    /// <summary>A request turned away because the queue was full.</summary>
    public void Rejected() => Interlocked.Increment(ref _rejected);

    /// <summary>Images encoded per second over the last complete <c>RateWindowSeconds</c> seconds.</summary>
    private double ImagesPerSecond()
    {
        long now = Environment.TickCount64 / 1000;
        long total = 0;
        lock (_rateLock)
        {
            for (int i = 0; i < _perSecond.Length; i++)
            {
                // The current second is still filling: the window is the ten before it.
                if (_secondOf[i] < now && _secondOf[i] >= now - RateWindowSeconds)
                {
                    total += _perSecond[i];
                }
            }
        }
        return total / (double)RateWindowSeconds;
    }

    /// <summary>Everything, in Prometheus' text format.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        text.Append("# HELP ijepa_requests_total HTTP requests by route and status.\n# TYPE ijepa_requests_total counter\n");
        foreach (((string route, int status), long[] count) in _requests.OrderBy(r => r.Key.Route, StringComparer.Ordinal).ThenBy(r => r.Key.Status))
        {
            text.Append(CultureInfo.InvariantCulture, $"ijepa_requests_total{{route=\"{route}\",status=\"{status}\"}} {Volatile.Read(ref count[0])}\n");
        }
        // The outcomes are read before the queue: an image leaves the queue before its outcome is counted, so one that
        // moves on between the two reads is missed by both rather than counted twice (queued + ended never exceeds
        // what was admitted).
        (long encoded, long failed, long cancelled) = (Interlocked.Read(ref _imagesOk), Interlocked.Read(ref _imagesFailed), Interlocked.Read(ref _imagesCancelled));
        text.Append("# HELP ijepa_queue_depth Images accepted and waiting for the model (decoding or queued).\n# TYPE ijepa_queue_depth gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_queue_depth {QueueDepth()}\n");
        text.Append("# HELP ijepa_rejected_total Requests refused with 503 because the queue was full.\n# TYPE ijepa_rejected_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_rejected_total {Interlocked.Read(ref _rejected)}\n");
        text.Append("# HELP ijepa_images_total Images by outcome.\n# TYPE ijepa_images_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_images_total{{outcome=\"encoded\"}} {encoded}\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_images_total{{outcome=\"failed\"}} {failed}\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_images_total{{outcome=\"cancelled\"}} {cancelled}\n");
        text.Append(CultureInfo.InvariantCulture, $"# HELP ijepa_images_per_second Images encoded per second over the last {RateWindowSeconds} s.\n# TYPE ijepa_images_per_second gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_images_per_second {ImagesPerSecond():0.###}\n");
        text.Append("# HELP ijepa_managed_heap_bytes .NET heap size after the last collection.\n# TYPE ijepa_managed_heap_bytes gauge\n");
        GCMemoryInfo gc = GC.GetGCMemoryInfo();
        text.Append(CultureInfo.InvariantCulture, $"ijepa_managed_heap_bytes {gc.HeapSizeBytes}\n");
        // Where a growing heap sits (a generation, the large-object heap, free space between objects) and how often
        // each generation is collected: what an operator needs to tell garbage from a leak.
        text.Append("# HELP ijepa_managed_generation_bytes .NET heap by generation after the last collection (3 = large objects, 4 = pinned).\n# TYPE ijepa_managed_generation_bytes gauge\n");
        for (int g = 0; g < gc.GenerationInfo.Length; g++)
        {
            text.Append(CultureInfo.InvariantCulture, $"ijepa_managed_generation_bytes{{generation=\"{g}\"}} {gc.GenerationInfo[g].SizeAfterBytes}\n");
        }
        text.Append("# HELP ijepa_managed_fragmented_bytes Free space inside the .NET heap after the last collection.\n# TYPE ijepa_managed_fragmented_bytes gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_managed_fragmented_bytes {gc.FragmentedBytes}\n");
        text.Append("# HELP ijepa_gc_collections_total .NET garbage collections by generation.\n# TYPE ijepa_gc_collections_total counter\n");
        for (int g = 0; g <= GC.MaxGeneration; g++)
        {
            text.Append(CultureInfo.InvariantCulture, $"ijepa_gc_collections_total{{generation=\"{g}\"}} {GC.CollectionCount(g)}\n");
        }
        if (NativeHeap.Read() is var (inUse, free, mapped))
        {
            text.Append("# HELP ijepa_native_heap_bytes glibc malloc (mallinfo2): bytes in use in its arenas, free in them, and in use in chunks mapped on their own.\n# TYPE ijepa_native_heap_bytes gauge\n");
            text.Append(CultureInfo.InvariantCulture, $"ijepa_native_heap_bytes{{state=\"in_use\"}} {inUse}\n");
            text.Append(CultureInfo.InvariantCulture, $"ijepa_native_heap_bytes{{state=\"free\"}} {free}\n");
            text.Append(CultureInfo.InvariantCulture, $"ijepa_native_heap_bytes{{state=\"mapped\"}} {mapped}\n");
        }
        text.Append("# HELP ijepa_native_heap_trims_total Returns of malloc's free memory to the kernel (--trim-native-seconds), by whether any was released.\n# TYPE ijepa_native_heap_trims_total counter\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_native_heap_trims_total{{released=\"true\"}} {Interlocked.Read(ref _trimsReleased)}\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_native_heap_trims_total{{released=\"false\"}} {Interlocked.Read(ref _trimsIdle)}\n");
        if (_memoryPool.TryGetValue("aspnetcore.memory_pool.pooled", out long[]? pooled))
        {
            text.Append("# HELP ijepa_kestrel_pool_pooled_bytes Kestrel's memory pool (pinned blocks): bytes held for reuse.\n# TYPE ijepa_kestrel_pool_pooled_bytes gauge\n");
            text.Append(CultureInfo.InvariantCulture, $"ijepa_kestrel_pool_pooled_bytes {Interlocked.Read(ref pooled[0])}\n");
        }
        if (!_memoryPool.IsEmpty)
        {
            text.Append("# HELP ijepa_kestrel_pool_bytes_total Kestrel's memory pool: bytes allocated (new blocks), evicted (idle blocks let go) and rented.\n# TYPE ijepa_kestrel_pool_bytes_total counter\n");
            foreach (string e in MemoryPoolEvents)
            {
                long total = _memoryPool.TryGetValue($"aspnetcore.memory_pool.{e}", out long[]? counter) ? Interlocked.Read(ref counter[0]) : 0;
                text.Append(CultureInfo.InvariantCulture, $"ijepa_kestrel_pool_bytes_total{{event=\"{e}\"}} {total}\n");
            }
        }
        text.Append("# HELP ijepa_threadpool_threads Threads in .NET's thread pool.\n# TYPE ijepa_threadpool_threads gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"ijepa_threadpool_threads {ThreadPool.ThreadCount}\n");
        text.Append("# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n");
        text.Append(CultureInfo.InvariantCulture, $"process_resident_memory_bytes {Environment.WorkingSet}\n");
        _batches.Render(text, "ijepa_batch_size", "Images per forward pass.");
        _latency.Render(text, "ijepa_request_duration_seconds", "Duration of /embed and /embed/batch requests.");
        return text.ToString();
    }

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private readonly object _lock = new();
        private double _sum;

        public void Observe(double value)
        {
            int bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket])
            {
                bucket++;
            }
            lock (_lock)
            {
                _counts[bucket]++;
                _sum += value;
            }
        }

        public void Render(StringBuilder text, string name, string help)
        {
            long[] counts;
            double sum;
            lock (_lock)
            {
                counts = (long[])_counts.Clone();
                sum = _sum;
            }
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += counts[i];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{bounds[i]}\"}} {cumulative}\n");
            }
            cumulative += counts[^1];
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {cumulative}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum {sum}\n{name}_count {cumulative}\n");
        }
    }
}
