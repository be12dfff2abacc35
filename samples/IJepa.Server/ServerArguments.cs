using System.Globalization;

namespace IJepa.Server;

/// <summary>The server's command line.</summary>
internal static class ServerArguments
{
    public const string Usage = """
        usage: IJepa.Server [options]
          --model M          Hugging Face I-JEPA folder, or hub id (facebook/ijepa_vith14_1k[@revision]) fetched into the
                             Hugging Face cache (default: the samples' small model trained on Fashion-MNIST, 28-px gray
                             clothing images; for photos name a real checkpoint such as facebook/ijepa_vith14_1k)
          --urls U           where to listen (default http://127.0.0.1:8080; several separated by ';')
          --api-key KEY      require "Authorization: Bearer KEY" on every route but /health and /ready
                             (or set IJEPA_SERVER_API_KEY, which keeps the key out of the process list)
          --device D         cpu, cuda, cuda:N (default cpu)
          --dtype T          float32, bfloat16, float16 (default float32)
          --threads N        libtorch threads (default: one per core)
          --max-batch N      most images in one forward pass (default 32)
          --max-wait-ms M    how long a forward pass waits for more images once it has one (default 5)
          --max-queue Q      most images accepted and waiting for the model; beyond, 503 + Retry-After (default 256)
          --workers N        threads that decode and preprocess (default: one per core)
          --max-body-bytes B largest request body; beyond, 413 (default 33554432: 32 MiB)
          --max-pixels P     largest image (width x height, read from its header before decoding); beyond, 422
                             (default 50000000)
          --pool-threads N   most threads in .NET's thread pool, which runs Kestrel and the request handlers (default
                             4 per core, at least 16; at least one per core); see README, Embedding server
          --warm-up on|off   before taking requests, one forward pass at each batch size the server uses, largest
                             first, so that its memory and kernels are ready (default on); see README, Embedding server
          --trim-native-seconds S  give malloc's free memory back to the kernel every S seconds (glibc; at most
                             86400; default 0: never); see README, Embedding server
          --malloc-mmap-threshold B  serve native allocations of B bytes or more from mappings of their own, given
                             back when freed, unless malloc has a free chunk for them (glibc; 4096 to 33554432;
                             default 0: glibc's sliding threshold; costs CPU); see README, Embedding server
          --libtorch DIR     load libtorch from DIR (e.g. an installed PyTorch's torch/lib, for CUDA) instead of the package's
        """;

    private static readonly string[] Valued =
        ["--model", "--urls", "--api-key", "--device", "--dtype", "--threads", "--max-batch", "--max-wait-ms", "--max-queue", "--workers",
         "--max-body-bytes", "--max-pixels", "--pool-threads", "--warm-up", "--trim-native-seconds", "--malloc-mmap-threshold", "--libtorch"];

    /// <summary>The parsed command line: the server's options, where to listen, and --libtorch.</summary>
    public sealed record Parsed(EmbeddingServerOptions Options, string? Urls, string? LibTorch, bool Help);

    /// <summary>Parses the command line.</summary>
    /// <exception cref="FormatException">An unknown option, a missing or malformed value.</exception>
    public static Parsed Parse(string[] args, string defaultModel)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool help = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (Valued.Contains(args[i]))
            {
                if (i + 1 >= args.Length)
                {
                    throw new FormatException($"{args[i]} needs a value");
                }
                values[args[i]] = args[++i];
            }
            else if (args[i] is "--help" or "-h")
            {
                help = true;
            }
            else
            {
                throw new FormatException($"unknown argument {args[i]}");
            }
        }
        string? model = values.GetValueOrDefault("--model");
        var options = new EmbeddingServerOptions
        {
            Model = model ?? defaultModel,
            DefaultModel = model is null,
            Device = values.GetValueOrDefault("--device") ?? "cpu",
            DType = (values.GetValueOrDefault("--dtype") ?? "float32") switch
            {
                "float32" => ComputeDType.Float32,
                "bfloat16" => ComputeDType.BFloat16,
                "float16" => ComputeDType.Float16,
                var other => throw new FormatException($"unknown dtype '{other}' (float32, bfloat16, float16)"),
            },
            Threads = values.TryGetValue("--threads", out string? threads) ? Positive("--threads", threads) : null,
            ApiKey = values.GetValueOrDefault("--api-key") ?? NonEmpty(Environment.GetEnvironmentVariable("IJEPA_SERVER_API_KEY")),
        };
        if (values.TryGetValue("--max-batch", out string? batch))
        {
            options.MaxBatch = Positive("--max-batch", batch);
        }
        if (values.TryGetValue("--max-wait-ms", out string? wait))
        {
            options.MaxWaitMs = int.TryParse(wait, NumberStyles.None, CultureInfo.InvariantCulture, out int ms) ? ms
                : throw new FormatException($"--max-wait-ms takes a whole number of milliseconds, not '{wait}'");
        }
        if (values.TryGetValue("--max-queue", out string? queue))
        {
            options.MaxQueue = Positive("--max-queue", queue);
        }
        if (values.TryGetValue("--workers", out string? workers))
        {
            options.Workers = Positive("--workers", workers);
        }
        if (values.TryGetValue("--max-body-bytes", out string? body))
        {
            options.MaxBodyBytes = PositiveLong("--max-body-bytes", body);
        }
        if (values.TryGetValue("--max-pixels", out string? pixels))
        {
            options.MaxPixels = PositiveLong("--max-pixels", pixels);
        }
        if (values.TryGetValue("--pool-threads", out string? poolThreads))
        {
            options.PoolThreads = Positive("--pool-threads", poolThreads) is int n && n >= Environment.ProcessorCount ? n
                : throw new FormatException($"--pool-threads takes at least one thread per core ({Environment.ProcessorCount}), not '{poolThreads}'");
        }
        if (values.TryGetValue("--warm-up", out string? warmUp))
        {
            options.WarmUp = warmUp switch
            {
                "on" => true,
                "off" => false,
                _ => throw new FormatException($"--warm-up takes on or off, not '{warmUp}'"),
            };
        }
        if (values.TryGetValue("--trim-native-seconds", out string? trim))
        {
            options.TrimNativeSeconds = int.TryParse(trim, NumberStyles.None, CultureInfo.InvariantCulture, out int t) && t <= 86_400 ? t
                : throw new FormatException($"--trim-native-seconds takes a whole number of seconds up to 86400, not '{trim}'");
        }
        if (values.TryGetValue("--malloc-mmap-threshold", out string? mmap))
        {
            // glibc refuses more than half its 64 MiB arena heap; below a page every allocation would be a system call.
            options.MallocMmapThreshold = int.TryParse(mmap, NumberStyles.None, CultureInfo.InvariantCulture, out int m) && (m == 0 || m is >= 4096 and <= 32 * 1024 * 1024) ? m
                : throw new FormatException($"--malloc-mmap-threshold takes 0 or a number of bytes from 4096 to 33554432, not '{mmap}'");
        }
        if (options.ApiKey is { Length: 0 })
        {
            throw new FormatException("--api-key must not be empty");
        }
        return new Parsed(options, values.GetValueOrDefault("--urls"), values.GetValueOrDefault("--libtorch"), help);
    }

    private static string? NonEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static int Positive(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
        : throw new FormatException($"{name} takes a positive integer, not '{text}'");

    private static long PositiveLong(string name, string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n >= 1 ? n
        : throw new FormatException($"{name} takes a positive integer, not '{text}'");
}
