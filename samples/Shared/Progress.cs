namespace IJepa.Samples;

/// <summary>A one-line progress bar on a terminal (rate, ETA, failures so far); plain lines every 10 % when output is redirected.</summary>
internal sealed class Progress(int total, bool redirected)
{
    private int _lastDecile = -1;
    private bool _drawn;

    public void Report(int done, TimeSpan elapsed, int failures = 0)
    {
        double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
        TimeSpan eta = TimeSpan.FromSeconds((total - done) / Math.Max(rate, 1e-9));
        if (redirected)
        {
            int decile = done * 10 / total;
            if (decile != _lastDecile || done == total)
            {
                _lastDecile = decile;
                Console.WriteLine($"progress: {done}/{total} images, {rate:F1} images/s, eta {eta:hh\\:mm\\:ss}, {failures} failed");
            }
            return;
        }
        int width = 30, filled = done * width / total;
        Console.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} {rate:F1} img/s eta {eta:hh\\:mm\\:ss} {failures} failed ");
        _drawn = true;
    }

    public void Clear()
    {
        if (_drawn)
        {
            Console.Write("\r" + new string(' ', Math.Max(Console.WindowWidth - 1, 1)) + "\r");
            _drawn = false;
        }
    }
}
