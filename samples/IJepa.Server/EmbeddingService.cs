using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using IJepa.Preprocessing;
using Microsoft.Extensions.Options;
using static TorchSharp.torch;

namespace IJepa.Server;

/// <summary>
/// The server's engine, shaped like text-embeddings-inference's router: admission against a bounded queue,
/// decoding and preprocessing on worker threads (never on request threads), then one batching thread that
/// gathers decoded images into forward passes of up to <see cref="EmbeddingServerOptions.MaxBatch"/>, waiting
/// at most <see cref="EmbeddingServerOptions.MaxWaitMs"/> for company. The model loads in the background:
/// the process answers /health at once and /ready once the model is in.
/// </summary>
internal sealed class EmbeddingService : IHostedService, IDisposable
{
    private readonly EmbeddingServerOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly ILogger<EmbeddingService> _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Channel<Job> _decodeQueue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private readonly Channel<Job> _modelQueue;
    private readonly List<Thread> _threads = [];
    private readonly CancellationTokenSource _loading = new();
    private readonly TaskCompletionSource _warmedUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _load = Task.CompletedTask;
    private IJepaEncoder? _encoder;
    private ImagePreprocessor? _preprocessor;
    private Tensor? _hostBuffer;
    private int _waiting; // images admitted and not yet taken into a forward pass
    private int _inFlight; // reservations not yet disposed: requests still being served
    private volatile bool _ready;
    private volatile bool _stopping;
    private volatile bool _abandon;
    private Timer? _abandonTimer;

    public EmbeddingService(IOptions<EmbeddingServerOptions> options, ServerMetrics metrics, ILogger<EmbeddingService> logger, IHostApplicationLifetime lifetime)
    {
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _lifetime = lifetime;
        // Admission keeps it below capacity; the bound is a second guard, not the mechanism.
        _modelQueue = Channel.CreateBounded<Job>(new BoundedChannelOptions(_options.MaxQueue) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        metrics.QueueDepth = () => Volatile.Read(ref _waiting);
        lifetime.ApplicationStopping.Register(OnStopping);
        // Bodies are read only once their request has room in the queue, so no more than --max-queue are held at
        // once: a pool that keeps at most that many buffers of each size keeps no more than the peak needed (the
        // shared pool keeps up to 32 per core and size; the switch changed no measured memory, README).
        Bodies = ArrayPool<byte>.Create((int)Math.Min(_options.MaxBodyBytes + 1, Array.MaxLength), _options.MaxQueue);
    }

    /// <summary>Buffers for request bodies (see <see cref="ImageBytes"/>).</summary>
    public ArrayPool<byte> Bodies { get; }

    /// <summary>
    /// From the shutdown signal on, no new work is taken (/ready says 503) while the accepted work goes on. Work
    /// still waiting two seconds before the shutdown deadline (time for the images being decoded or encoded
    /// to finish) is answered 503 with Retry-After rather than cut off at the deadline: every accepted request
    /// gets a whole answer.
    /// </summary>
    private void OnStopping()
    {
        _stopping = true;
        TimeSpan budget = _options.ShutdownTimeout - TimeSpan.FromSeconds(2);
        _abandonTimer = new Timer(_ => _abandon = true, null, budget > TimeSpan.Zero ? budget : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>True once the model is loaded and until shutdown begins.</summary>
    public bool Ready => _ready && !_stopping;

    /// <summary>The model's id (hub id or folder name); empty before it is loaded.</summary>
    public string ModelId => _encoder?.ModelId ?? "";

    /// <summary>Length of the pooled embedding; 0 before the model is loaded.</summary>
    public int Dimension => _encoder?.Dimension ?? 0;

    /// <summary>Images waiting for the model.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _load = Task.Run(LoadAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task LoadAsync()
    {
        try
        {
            var encoderOptions = new IJepaEncoderOptions
            {
                Device = _options.Device,
                DType = _options.DType,
                Threads = _options.Threads,
                IncludePatches = true,
                Hub = new Hub.HubOptions { Progress = new IJepa.Samples.DownloadProgress() },
            };
            IJepaEncoder encoder = await IJepaEncoder.LoadAsync(_options.Model, encoderOptions, _loading.Token).ConfigureAwait(false);
            PreprocessingOptions preprocessing = encoder.Preprocessor.Options;
            if (_options.MaxPixels is long maxPixels)
            {
                preprocessing = preprocessing with { MaxPixels = maxPixels };
            }
            _preprocessor = new ImagePreprocessor(preprocessing);
            Tensor buffer = zeros([_options.MaxBatch, 3, preprocessing.Height, preprocessing.Width], ScalarType.Float32).DetachFromDisposeScope();
            if (encoder.Model.Device.type == TorchSharp.DeviceType.CUDA)
            {
                // Page-locked, so the copy to the device runs without staging.
                Tensor plain = buffer;
                buffer = plain.pin_memory().DetachFromDisposeScope();
                plain.Dispose();
            }
            _hostBuffer = buffer;
            _encoder = encoder;
            for (int i = 0; i < _options.Workers; i++)
            {
                Start(DecodeLoop, $"IJepa.Server decode {i}");
            }
            Start(BatchLoop, "IJepa.Server batcher");
            await _warmedUp.Task.ConfigureAwait(false);
            if (_stopping)
            {
                return; // stopped during the warm-up: never ready
            }
            _logger.LogInformation("model {Model} (dim {Dimension}) on {Device}; max batch {MaxBatch}, max wait {MaxWait} ms, queue {Queue}, {Workers} decode workers{Note}",
                encoder.ModelId, encoder.Dimension, encoder.Model.Device, _options.MaxBatch, _options.MaxWaitMs, _options.MaxQueue, _options.Workers,
                _options.DefaultModel ? "; no --model given: the samples' Fashion-MNIST model (28-px clothing images), pass --model for photos" : "");
            _ready = true; // after the line above, so that whoever sees /ready also finds the model named in the log
        }
        catch (OperationCanceledException) when (_loading.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // A server without its model is no server: say why and exit with the samples' error code.
            _logger.LogCritical("cannot load the model {Model}: {Message}", _options.Model, e.Message);
            Environment.ExitCode = 2;
            _lifetime.StopApplication();
        }
    }

    private void Start(ThreadStart body, string name)
    {
        var thread = new Thread(body) { IsBackground = true, Name = name };
        _threads.Add(thread);
        thread.Start();
    }

    /// <summary>
    /// Reserves room for <paramref name="count"/> images, or null when the queue is full (or the server is
    /// not ready, or stopping): the caller answers 503. Dispose the reservation when the request is done.
    /// </summary>
    public Reservation? TryReserve(int count)
    {
        if (!Ready)
        {
            return null;
        }
        int now = Interlocked.Add(ref _waiting, count);
        if (now > _options.MaxQueue)
        {
            Interlocked.Add(ref _waiting, -count);
            return null;
        }
        Interlocked.Increment(ref _inFlight);
        return new Reservation(this, count);
    }

    private void Leave(int count) => Interlocked.Add(ref _waiting, -count);

    private void Submit(Job job)
    {
        if (!_decodeQueue.Writer.TryWrite(job))
        {
            job.Fail(new ServiceUnavailableException());
        }
    }

    private void DecodeLoop()
    {
        ChannelReader<Job> reader = _decodeQueue.Reader;
        ImagePreprocessor preprocessor = _preprocessor!;
        int values = preprocessor.ValuesPerImage;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out Job? job))
            {
                if (Dropped(job))
                {
                    continue;
                }
                float[] pixels = ArrayPool<float>.Shared.Rent(values);
                try
                {
                    preprocessor.Preprocess(ImageInput.FromBytes(job.Bytes.Memory, job.Name), pixels.AsSpan(0, values));
                }
                catch (Exception e)
                {
                    ArrayPool<float>.Shared.Return(pixels);
                    job.Fail(e);
                    continue;
                }
                job.Decoded(pixels);
                if (!_modelQueue.Writer.TryWrite(job))
                {
                    job.Fail(new ServiceUnavailableException());
                }
            }
        }
    }

    /// <summary>
    /// Settles a job that must not be worked on: its client has gone (cancelled), or the shutdown deadline has come
    /// (503). True when the job was settled here.
    /// </summary>
    private bool Dropped(Job job)
    {
        if (job.Token.IsCancellationRequested)
        {
            job.Cancel();
            _metrics.ImageCancelled();
            return true;
        }
        if (_abandon)
        {
            job.Fail(new ServiceUnavailableException());
            return true;
        }
        return false;
    }

    private void BatchLoop()
    {
        if (!WarmUp())
        {
            return;
        }
        ChannelReader<Job> reader = _modelQueue.Reader;
        var batch = new List<Job>(_options.MaxBatch);
        var wait = TimeSpan.FromMilliseconds(_options.MaxWaitMs);
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            long started = 0;
            while (batch.Count < _options.MaxBatch)
            {
                if (reader.TryRead(out Job? job))
                {
                    job.LeaveQueue();
                    if (Dropped(job))
                    {
                        continue;
                    }
                    if (batch.Count == 0)
                    {
                        started = Environment.TickCount64;
                    }
                    batch.Add(job);
                    continue;
                }
                if (batch.Count == 0)
                {
                    break;
                }
                TimeSpan remaining = wait - TimeSpan.FromMilliseconds(Environment.TickCount64 - started);
                // Wait with a timeout on a task rather than a cancelled token: no exception per batch.
                Task<bool> more = reader.WaitToReadAsync().AsTask();
                if (remaining <= TimeSpan.Zero || !more.Wait(remaining) || !more.Result)
                {
                    break;
                }
            }
            if (batch.Count > 0)
            {
                Encode(batch);
            }
        }
    }

    /// <summary>
    /// Before the server is ready, one forward pass at every batch shape <see cref="Encode"/> uses, largest first, on
    /// the batching thread itself, as text-embeddings-inference warms up with its largest batch. The memory a
    /// forward pass needs is then taken at its peak before the first request (malloc keeps it per thread, in that
    /// thread's arena), instead of growing in steps during a long load each time a larger batch than before comes
    /// together; the kernels for each shape are prepared, so no first request pays for that; and a model too large
    /// for --max-batch fails at start. A shutdown during the warm-up waits for the forward pass under way (the threads
    /// are joined before the model is disposed), then skips the rest. False when it failed (the load reports it).
    /// </summary>
    private bool WarmUp()
    {
        try
        {
            if (_options.WarmUp)
            {
                var shapes = new List<int>();
                for (int rows = _options.MaxBatch; rows >= 1; rows = (int)BitOperations.RoundUpToPowerOf2((uint)rows) / 2)
                {
                    shapes.Add(rows);
                }
                _logger.LogInformation("warming up: a forward pass at batch {Shapes}", string.Join(", ", shapes));
                var watch = System.Diagnostics.Stopwatch.StartNew();
                foreach (int rows in shapes.TakeWhile(_ => !_stopping))
                {
                    using Tensor view = _hostBuffer!.narrow(0, 0, rows);
                    _encoder!.Encode(view);
                }
                _logger.LogInformation("warm-up done in {Seconds:F1} s", watch.Elapsed.TotalSeconds);
            }
            // Serving goes on even if a shutdown has begun: whatever was accepted is answered, and the loop ends when
            // StopAsync completes the queue.
            _warmedUp.TrySetResult();
            return true;
        }
        catch (Exception e)
        {
            _warmedUp.TrySetException(new InvalidOperationException($"the warm-up forward pass failed ({e.Message})", e));
            return false;
        }
    }

    private void Encode(List<Job> batch)
    {
        IJepaEncoder encoder = _encoder!;
        Tensor buffer = _hostBuffer!;
        int values = _preprocessor!.ValuesPerImage;
        try
        {
            for (int i = 0; i < batch.Count; i++)
            {
                using Tensor row = buffer[i];
                batch[i].Pixels!.AsSpan(0, values).CopyTo(MemoryMarshal.Cast<byte, float>(row.bytes));
            }
            // The forward runs at a power-of-two batch (the rows past the images hold earlier images, and their
            // results are dropped): with every size from 1 to --max-batch the server spent about twice the CPU per
            // image (README, Embedding server), presumably libtorch and oneDNN preparing kernels per input shape.
            int rows = Math.Min((int)BitOperations.RoundUpToPowerOf2((uint)batch.Count), _options.MaxBatch);
            IReadOnlyList<ImageEmbedding> embeddings;
            using (Tensor view = buffer.narrow(0, 0, rows))
            {
                embeddings = encoder.Encode(view);
            }
            _metrics.Batch(batch.Count);
            for (int i = 0; i < batch.Count; i++)
            {
                batch[i].Succeed(embeddings[i]);
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "forward pass of {Count} images failed", batch.Count);
            foreach (Job job in batch)
            {
                job.Fail(e);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _abandon |= cancellationToken.IsCancellationRequested;
        await _loading.CancelAsync().ConfigureAwait(false);
        await _load.ConfigureAwait(false);
        // Whatever the order the host stops the web server and this service in, the requests already
        // accepted finish first: new ones are refused (not ready) while these drain.
        var deadline = Task.Delay(_options.ShutdownTimeout, CancellationToken.None);
        while (Volatile.Read(ref _inFlight) > 0 && !deadline.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        }
        // Anything still queued now is answered 503 rather than encoded: the deadline has come.
        _abandon = true;
        _decodeQueue.Writer.TryComplete();
        _modelQueue.Writer.TryComplete();
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }
        _logger.LogInformation("stopped with {InFlight} requests unfinished", Volatile.Read(ref _inFlight));
    }

    public void Dispose()
    {
        // After StopAsync has joined the threads (the host disposes services after stopping them).
        _hostBuffer?.Dispose();
        _encoder?.Dispose();
        _loading.Dispose();
        _abandonTimer?.Dispose();
    }

    /// <summary>Room for some images in the queue, handed out by <see cref="TryReserve"/>.</summary>
    internal sealed class Reservation : IDisposable
    {
        private readonly EmbeddingService _service;
        private int _unassigned;
        private int _disposed;

        public Reservation(EmbeddingService service, int count)
        {
            _service = service;
            _unassigned = count;
        }

        /// <summary>Queues one image for decoding and encoding; the task ends with its embedding or its error.</summary>
        public Task<ImageEmbedding> EmbedAsync(ImageBytes bytes, string name, CancellationToken cancellationToken)
        {
            if (Interlocked.Decrement(ref _unassigned) < 0)
            {
                bytes.Dispose();
                throw new InvalidOperationException("more images than reserved");
            }
            var job = new Job(_service, bytes, name, cancellationToken);
            _service.Submit(job);
            return job.Task;
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                // Images never submitted give their room back here; a submitted one gives it back when it leaves the queue.
                _service.Leave(Math.Max(Interlocked.Exchange(ref _unassigned, 0), 0));
                Interlocked.Decrement(ref _service._inFlight);
            }
        }
    }

    /// <summary>One image on its way through the server.</summary>
    private sealed class Job
    {
        private readonly EmbeddingService _service;
        private readonly TaskCompletionSource<ImageEmbedding> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _left;

        public Job(EmbeddingService service, ImageBytes bytes, string name, CancellationToken token)
        {
            _service = service;
            Bytes = bytes;
            Name = name;
            Token = token;
        }

        /// <summary>The encoded image, owned by the job until it is decoded (or dropped).</summary>
        public ImageBytes Bytes { get; }

        public string Name { get; }

        public CancellationToken Token { get; }

        public float[]? Pixels { get; private set; }

        public Task<ImageEmbedding> Task => _result.Task;

        public void Decoded(float[] pixels)
        {
            Pixels = pixels;
            Bytes.Dispose(); // the encoded image is no longer needed: back to the pool before the forward pass
        }

        /// <summary>Gives the job's room in the queue back (once).</summary>
        public void LeaveQueue()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                _service.Leave(1);
            }
        }

        public void Succeed(ImageEmbedding embedding)
        {
            ReturnPixels();
            _result.TrySetResult(embedding);
        }

        public void Fail(Exception error)
        {
            Bytes.Dispose();
            LeaveQueue();
            ReturnPixels();
            _result.TrySetException(error);
        }

        public void Cancel()
        {
            Bytes.Dispose();
            LeaveQueue();
            ReturnPixels();
            _result.TrySetCanceled(Token);
        }

        private void ReturnPixels()
        {
            if (Pixels is { } pixels)
            {
                Pixels = null;
                ArrayPool<float>.Shared.Return(pixels);
            }
        }
    }
}

/// <summary>The queue could not take an image (full, or shutting down): the client should retry later.</summary>
internal sealed class ServiceUnavailableException() : Exception("the server is busy; retry later");
