using Microsoft.Extensions.Options;

namespace IJepa.Server;

/// <summary>
/// Calls <see cref="NativeHeap.Trim"/> every <see cref="EmbeddingServerOptions.TrimNativeSeconds"/>. Under a long
/// overload glibc's malloc kept a growing amount of freed memory inside its arenas (61 → 115 MB in 20 minutes, with
/// the bytes in use level at 56–79 MB; the same with MALLOC_ARENA_MAX=2), and the resident set grew with it. Trimming
/// returns those pages; the next allocation that needs them faults them back in. Off by default: in those runs it
/// did not make the resident set flatter (README, Embedding server), and its CPU cost was not measured.
/// </summary>
internal sealed class NativeHeapTrimmer(IOptions<EmbeddingServerOptions> options, ServerMetrics metrics) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        int seconds = options.Value.TrimNativeSeconds;
        if (seconds <= 0 || !OperatingSystem.IsLinux())
        {
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                metrics.NativeTrimmed(NativeHeap.Trim());
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
