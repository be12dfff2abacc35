using IJepa.Hub;

namespace IJepa.Samples;

/// <summary>A download bar on standard error (standard output may be the features); plain lines every 25 % when redirected.</summary>
internal sealed class DownloadProgress : IProgress<HubDownloadProgress>
{
    private readonly bool _redirected = Console.IsErrorRedirected;
    private readonly object _gate = new();
    private string? _file;
    private long _lastQuarter = -1;

    public void Report(HubDownloadProgress value)
    {
        lock (_gate)
        {
            bool done = value.BytesDone >= value.TotalBytes;
            if (_redirected)
            {
                long quarter = value.TotalBytes == 0 ? 4 : value.BytesDone * 4 / value.TotalBytes;
                if (value.FileName != _file || quarter != _lastQuarter)
                {
                    _file = value.FileName;
                    _lastQuarter = quarter;
                    Console.Error.WriteLine($"download: {value.RepoId} {value.FileName} {Mb(value.BytesDone)}/{Mb(value.TotalBytes)} MB");
                }
                return;
            }
            int width = 30;
            int filled = value.TotalBytes == 0 ? width : (int)(value.BytesDone * width / value.TotalBytes);
            Console.Error.Write($"\rdownload {value.FileName} [{new string('#', filled)}{new string('.', width - filled)}] {Mb(value.BytesDone)}/{Mb(value.TotalBytes)} MB ");
            if (done)
            {
                Console.Error.WriteLine();
            }
        }
    }

    private static string Mb(long bytes) => (bytes / 1e6).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
}
