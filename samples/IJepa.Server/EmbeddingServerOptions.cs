namespace IJepa.Server;

/// <summary>The server's settings, from the command line (see <see cref="ServerArguments"/>).</summary>
internal sealed class EmbeddingServerOptions
{
    /// <summary>A Hugging Face I-JEPA folder or hub id.</summary>
    public string Model { get; set; } = "";

    /// <summary>True when <see cref="Model"/> is the samples' default model (Fashion-MNIST), not one the user named.</summary>
    public bool DefaultModel { get; set; }

    /// <summary>cpu, cuda, cuda:N.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Compute dtype of the forward pass.</summary>
    public ComputeDType DType { get; set; } = ComputeDType.Float32;

    /// <summary>libtorch threads; null: one per core.</summary>
    public int? Threads { get; set; }

    /// <summary>Most images in one forward pass.</summary>
    public int MaxBatch { get; set; } = 32;

    /// <summary>How long a forward pass waits for more images once it has one (and fewer than <see cref="MaxBatch"/>).</summary>
    public int MaxWaitMs { get; set; } = 5;

    /// <summary>Most images accepted and waiting for the model (being decoded or queued); beyond it, 503.</summary>
    public int MaxQueue { get; set; } = 256;

    /// <summary>Threads that decode and preprocess.</summary>
    public int Workers { get; set; } = Environment.ProcessorCount;

    /// <summary>Largest request body, bytes (413 beyond).</summary>
    public long MaxBodyBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Largest image, in pixels, read from its header before decoding (422 beyond); null: the library's default.</summary>
    public long? MaxPixels { get; set; }

    /// <summary>When set, every route but /health and /ready needs <c>Authorization: Bearer</c> this.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Most threads in .NET's thread pool (Kestrel and the request handlers; decoding and the model have their own).</summary>
    public int PoolThreads { get; set; } = Math.Max(16, 4 * Environment.ProcessorCount);

    /// <summary>Run a forward pass at every batch shape before taking requests (see EmbeddingService.WarmUp).</summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>
    /// Bytes from which glibc's malloc serves a request from a mapping of its own, unmapped when freed (see
    /// <see cref="NativeHeap.SetMmapThreshold"/>); 0: glibc's own sliding threshold.
    /// </summary>
    public int MallocMmapThreshold { get; set; }

    /// <summary>Seconds between returns of malloc's free memory to the kernel (glibc only); 0: never.</summary>
    public int TrimNativeSeconds { get; set; }

    /// <summary>How long a shutdown waits for accepted work before giving up.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(8);
}
