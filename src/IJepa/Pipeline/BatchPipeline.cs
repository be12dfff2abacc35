using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using IJepa.Preprocessing;
using static TorchSharp.torch;

namespace IJepa.Pipeline;

/// <summary>
/// Turns a stream of images into batches of normalized pixels for the encoder, in input order, while the
/// encoder works on the previous ones. Every worker takes the next image as soon as it is free (no batch
/// waits for its slowest image before the next batch starts) and writes straight into that image's row of
/// a reusable host buffer — page-locked when the model is on a GPU, so the copy to the device runs without
/// staging. At most <c>prefetch</c> batches are prepared ahead of the one being encoded, so memory is bounded
/// by <c>prefetch + 1</c> buffers whatever the stream's length.
/// </summary>
internal sealed class BatchPipeline
{
    private readonly ImagePreprocessor _preprocessor;
    private readonly int _batchSize;
    private readonly int _workers;
    private readonly int _prefetch;
    private readonly bool _pinned;

    /// <param name="preprocessor">Decodes and normalizes one image.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="workers">Threads that decode and preprocess.</param>
    /// <param name="prefetch">Batches prepared ahead of the one being encoded.</param>
    /// <param name="pinned">Allocate page-locked buffers (needs CUDA).</param>
    public BatchPipeline(ImagePreprocessor preprocessor, int batchSize, int workers, int prefetch, bool pinned)
    {
        ArgumentNullException.ThrowIfNull(preprocessor);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefetch, 1);
        _preprocessor = preprocessor;
        _batchSize = batchSize;
        _workers = workers;
        _prefetch = prefetch;
        _pinned = pinned;
    }

    /// <summary>
    /// The batches, in order. Each yielded batch's <see cref="PreprocessedBatch.Pixels"/> is a view of a
    /// pooled buffer: it is valid until the enumeration moves on, and the caller disposes the batch.
    /// </summary>
    public async IAsyncEnumerable<(IReadOnlyList<ImageInput> Inputs, PreprocessedBatch Batch)> RunAsync(
        IAsyncEnumerable<ImageInput> inputs, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = new Run(this, stop.Token);
        Task reader = Task.Run(() => run.ReadAsync(inputs), CancellationToken.None);
        HostBatch? previous = null;
        try
        {
            await foreach (HostBatch batch in run.Ready.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                run.Release(previous);
                previous = batch;
                await batch.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                yield return (batch.Inputs, batch.Compact());
            }
            await reader.ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
            {
            }
            run.Shutdown();
        }
    }

    /// <summary>One enumeration: its buffers, its work queue and its worker threads.</summary>
    private sealed class Run
    {
        private readonly BatchPipeline _owner;
        private readonly CancellationToken _token;
        private readonly BlockingCollection<(HostBatch Batch, int Slot)> _work;
        private readonly Channel<Tensor> _free;
        private readonly List<Tensor> _buffers = [];
        private readonly Thread[] _threads;
        private readonly long[] _shape;

        public Run(BatchPipeline owner, CancellationToken token)
        {
            _owner = owner;
            _token = token;
            _work = new BlockingCollection<(HostBatch, int)>(Math.Max(2 * owner._workers, owner._batchSize));
            int buffers = owner._prefetch + 1;
            _free = Channel.CreateBounded<Tensor>(buffers);
            PreprocessingOptions o = owner._preprocessor.Options;
            _shape = [owner._batchSize, 3, o.Height, o.Width];
            _threads = new Thread[owner._workers];
            for (int i = 0; i < _threads.Length; i++)
            {
                _threads[i] = new Thread(Work) { IsBackground = true, Name = $"IJepa preprocess {i}" };
                _threads[i].Start();
            }
            Ready = Channel.CreateUnbounded<HostBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        }

        /// <summary>Batches in input order, written as soon as they are started (they complete later).</summary>
        public Channel<HostBatch> Ready { get; }

        public async Task ReadAsync(IAsyncEnumerable<ImageInput> inputs)
        {
            HostBatch? current = null;
            try
            {
                await foreach (ImageInput input in inputs.WithCancellation(_token).ConfigureAwait(false))
                {
                    if (current is null)
                    {
                        current = new HostBatch(await RentAsync().ConfigureAwait(false), _owner._batchSize);
                        Ready.Writer.TryWrite(current);
                    }
                    int slot = current.Add(input);
                    _work.Add((current, slot), _token);
                    if (current.Count == _owner._batchSize)
                    {
                        current.Seal();
                        current = null;
                    }
                }
                current?.Seal();
                Ready.Writer.TryComplete();
            }
            catch (Exception e)
            {
                current?.Fail(e);
                Ready.Writer.TryComplete(e);
            }
        }

        private async ValueTask<Tensor> RentAsync()
        {
            if (_free.Reader.TryRead(out Tensor? buffer))
            {
                return buffer;
            }
            lock (_buffers)
            {
                if (_buffers.Count < _owner._prefetch + 1)
                {
                    Tensor created = Allocate();
                    _buffers.Add(created);
                    return created;
                }
            }
            return await _free.Reader.ReadAsync(_token).ConfigureAwait(false);
        }

        private Tensor Allocate()
        {
            Tensor plain = empty(_shape, ScalarType.Float32).DetachFromDisposeScope();
            if (!_owner._pinned)
            {
                return plain;
            }
            using (plain)
            {
                return plain.pin_memory().DetachFromDisposeScope();
            }
        }

        /// <summary>Returns a batch's buffer once the consumer is done with it.</summary>
        public void Release(HostBatch? batch)
        {
            if (batch is not null)
            {
                _free.Writer.TryWrite(batch.Buffer);
            }
        }

        private void Work()
        {
            try
            {
                foreach ((HostBatch batch, int slot) in _work.GetConsumingEnumerable(_token))
                {
                    batch.Process(slot, _owner._preprocessor, _token);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        /// <summary>Stops the workers and frees every buffer (after the workers have let go of them).</summary>
        public void Shutdown()
        {
            _work.CompleteAdding();
            foreach (Thread thread in _threads)
            {
                thread.Join();
            }
            _work.Dispose();
            lock (_buffers)
            {
                foreach (Tensor buffer in _buffers)
                {
                    buffer.Dispose();
                }
                _buffers.Clear();
            }
        }
    }

    /// <summary>One batch being filled: its buffer, its inputs, and a count of the images still in progress.</summary>
    private sealed class HostBatch
    {
        private readonly ImageInput[] _inputs;
        private readonly ImageDecodeException?[] _errors;
        private readonly (int Width, int Height)[] _sizes;
        private Exception? _fatal;
        private int _pending = 1; // the reader's own hold, dropped by Seal

        public HostBatch(Tensor buffer, int capacity)
        {
            Buffer = buffer;
            _inputs = new ImageInput[capacity];
            _errors = new ImageDecodeException?[capacity];
            _sizes = new (int Width, int Height)[capacity];
        }

        public Tensor Buffer { get; }

        public int Count { get; private set; }

        public IReadOnlyList<ImageInput> Inputs => new ArraySegment<ImageInput>(_inputs, 0, Count);

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Add(ImageInput input)
        {
            Interlocked.Increment(ref _pending);
            _inputs[Count] = input;
            return Count++;
        }

        public void Seal() => Arrive();

        public void Fail(Exception e)
        {
            _fatal = e;
            Done.TrySetException(e);
        }

        public void Process(int slot, ImagePreprocessor preprocessor, CancellationToken token)
        {
            try
            {
                // A row skipped for cancellation must never pass for a result: the batch fails instead.
                token.ThrowIfCancellationRequested();
                using Tensor row = Buffer[slot];
                _sizes[slot] = preprocessor.PreprocessSized(_inputs[slot], MemoryMarshal.Cast<byte, float>(row.bytes));
            }
            catch (ImageDecodeException e)
            {
                _errors[slot] = e;
            }
            catch (Exception e)
            {
                // Not a bad image but a failure of this process (out of memory, a bug): end the stream with it.
                _fatal ??= e;
            }
            Arrive();
        }

        private void Arrive()
        {
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                if (_fatal is { } fatal)
                {
                    Done.TrySetException(fatal);
                }
                else
                {
                    Done.TrySetResult();
                }
            }
        }

        /// <summary>Moves the good rows together (in order) and describes them; failed images are listed apart.</summary>
        public PreprocessedBatch Compact()
        {
            var succeeded = new List<ImageInput>(Count);
            var sizes = new List<(int Width, int Height)>(Count);
            var failures = new List<ImageFailure>();
            for (int i = 0; i < Count; i++)
            {
                if (_errors[i] is { } error)
                {
                    failures.Add(new ImageFailure(_inputs[i], error));
                    continue;
                }
                if (succeeded.Count != i)
                {
                    // Row by row through views: a whole buffer may exceed what one span can address (2 GiB).
                    using Tensor from = Buffer[i], to = Buffer[succeeded.Count];
                    to.copy_(from);
                }
                succeeded.Add(_inputs[i]);
                sizes.Add(_sizes[i]);
            }
            Tensor? pixels = succeeded.Count == 0 ? null : Buffer.narrow(0, 0, succeeded.Count).DetachFromDisposeScope();
            return new PreprocessedBatch(pixels, succeeded, sizes, failures);
        }
    }
}
