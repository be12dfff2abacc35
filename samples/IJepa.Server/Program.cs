using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using IJepa.Samples;
using IJepa.Server;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

// An I-JEPA embedding server: POST images, get embeddings; requests are batched together for the model.
//   dotnet run --project samples/IJepa.Server -c Release -- --model DIR|HUB_ID --urls http://127.0.0.1:8080 [options]
ServerArguments.Parsed parsed;
try
{
    parsed = ServerArguments.Parse(args, Path.Combine(AppContext.BaseDirectory, "default-model"));
}
catch (FormatException e)
{
    return Exit.Usage(e.Message, ServerArguments.Usage);
}
if (parsed.Help)
{
    Console.WriteLine(ServerArguments.Usage);
    return 0;
}
if (RuntimeArguments.ApplyLibTorch(parsed.LibTorch) is int libtorchFailure)
{
    return libtorchFailure;
}
EmbeddingServerOptions options = parsed.Options;
// Under a long overload .NET's pool kept adding threads (26 to over 100 in 50 minutes), each adding pinned socket
// buffers and native memory, so the resident set crept up with them (README, Embedding server). The handlers only
// await, and decoding and the model run on threads of their own, so a bounded pool serves them as well.
ThreadPool.GetMaxThreads(out _, out int completionThreads);
ThreadPool.GetMinThreads(out int minThreads, out int minCompletionThreads);
ThreadPool.SetMinThreads(Math.Min(minThreads, options.PoolThreads), minCompletionThreads);
if (!ThreadPool.SetMaxThreads(options.PoolThreads, completionThreads))
{
    return Exit.Usage($"--pool-threads {options.PoolThreads} was refused by the runtime", ServerArguments.Usage);
}
// Before the model and the decoders allocate: the threshold applies to allocations made after it is set.
bool? mmapThresholdSet = options.MallocMmapThreshold > 0 ? NativeHeap.SetMmapThreshold(options.MallocMmapThreshold) : null;

WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
if (parsed.Urls is { } urls)
{
    builder.WebHost.UseUrls(urls);
}
else if (builder.Configuration["urls"] is null)
{
    builder.WebHost.UseUrls("http://127.0.0.1:8080");
}
// One line per request at Information costs more than encoding a small image; errors still show.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
    // Kestrel buffers up to this much of each connection's unread input (1 MB by default): with hundreds of
    // clients uploading photos, that buffer, not the queue, would set the resident memory.
    kestrel.Limits.MaxRequestBufferSize = 64 * 1024;
});
builder.Services.Configure<FormOptions>(form =>
{
    // Kestrel's body limit bounds the form; kept in memory rather than spilled to temporary files.
    form.MultipartBodyLengthLimit = long.MaxValue;
    form.MemoryBufferThreshold = (int)Math.Min(options.MaxBodyBytes, int.MaxValue);
});
// The host's whole stop (the web server's drain, then the engine's) fits in this.
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(1));
builder.Services.AddSingleton(Options.Create(options));
builder.Services.AddSingleton<ServerMetrics>();
builder.Services.AddSingleton<EmbeddingService>();
builder.Services.AddHostedService(services => services.GetRequiredService<EmbeddingService>());
builder.Services.AddHostedService<NativeHeapTrimmer>();
builder.Services.AddProblemDetails();
builder.Services.AddOpenApi();
builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull);

WebApplication app = builder.Build();
if (mmapThresholdSet is { } set)
{
    if (set)
    {
        app.Logger.LogInformation("malloc serves allocations of {Bytes} bytes or more from mappings of their own (--malloc-mmap-threshold)", options.MallocMmapThreshold);
    }
    else
    {
        app.Logger.LogWarning("--malloc-mmap-threshold {Bytes} had no effect: this C library is not glibc or refused the value", options.MallocMmapThreshold);
    }
}
ServerMetrics metrics = app.Services.GetRequiredService<ServerMetrics>();
app.Use(async (context, next) =>
{
    long start = Stopwatch.GetTimestamp();
    // Routing has chosen the endpoint by now; read it before the exception handler clears it to re-run the pipeline
    // (a 413 or 400 from Kestrel while /embed reads its body is counted under /embed, not "other").
    string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "other";
    try
    {
        await next(context);
    }
    finally
    {
        metrics.Request(route, context.Response.StatusCode, Stopwatch.GetElapsedTime(start));
    }
});
app.UseExceptionHandler(new ExceptionHandlerOptions
{
    // Kestrel's own request errors (body over the limit: 413, truncated body: 400) keep their status;
    // anything else is a 500 whose body says nothing of the exception.
    StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
    // Those are the client's doing (often a client that left mid-body), answered with their status: not logged as
    // the server's errors, with a stack trace each.
    SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException,
});
app.UseStatusCodePages();
if (options.ApiKey is { } apiKey)
{
    byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));
    app.Use(async (context, next) =>
    {
        if (context.Request.Path.Equals("/health", StringComparison.Ordinal) || context.Request.Path.Equals("/ready", StringComparison.Ordinal)
            || Authorized(context.Request.Headers.Authorization.ToString(), expected))
        {
            await next(context);
            return;
        }
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "Send Authorization: Bearer <the server's API key>.")
            .ExecuteAsync(context);
    });
}
app.MapOpenApi();
EmbeddingEndpoints.Map(app);
try
{
    await app.RunAsync();
}
catch (OperationCanceledException) when (Environment.ExitCode != 0)
{
    // The model failed to load while Kestrel was still binding: StopApplication cancelled the host's start.
    // The load already logged why and set the exit code; a crash dump (exit 134) would hide that.
}
return Environment.ExitCode;

// Hashes first so that the comparison takes the same time whatever the key's length and content.
static bool Authorized(string header, byte[] expected) =>
    header.StartsWith("Bearer ", StringComparison.Ordinal)
    && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header[7..])), expected);
