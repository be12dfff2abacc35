using System.Text.Json;
using IJepa.Preprocessing;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace IJepa.Server;

/// <summary>The routes.</summary>
internal static class EmbeddingEndpoints
{
    private const string RetryAfterSeconds = "1";

    public static void Map(WebApplication app)
    {
        app.MapGet("/health", () => Results.Ok(new HealthResponse("ok")))
            .WithSummary("The process is up.");
        app.MapGet("/ready", (EmbeddingService service) => service.Ready
                ? Results.Ok(new ReadyResponse("ready", service.ModelId, service.Dimension))
                : Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready", detail: "The model is loading, or the server is stopping."))
            .WithSummary("The model is loaded and the server takes work.")
            .Produces<ReadyResponse>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapGet("/metrics", (ServerMetrics metrics) => Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8"))
            .WithSummary("Prometheus metrics: requests by status, queue depth, batch sizes, latency, images/s.");
        app.MapPost("/embed", EmbedAsync)
            .WithSummary("Embeds one image: the request body is the encoded image (JPEG, PNG, WebP, GIF, BMP, TIFF, ...).")
            // Routing answers 415 to any other content type (before the handler runs).
            .Accepts<Stream>("image/*")
            .Produces<EmbedResponse>()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/embed/batch", EmbedBatchAsync)
            .WithSummary("Embeds several images, in order: a multipart form of image files, or JSON {\"images\": [base64 or data: URL, ...]}. A failed image is reported in its place.")
            .Accepts<BatchRequest>("application/json", "multipart/form-data")
            .Produces<BatchResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<IResult> EmbedAsync(HttpRequest request, EmbeddingService service, ServerMetrics metrics, bool? patches, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.ContentType))
        {
            // Routing refuses other content types, but lets a request without one through.
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: "POST the image's bytes with an image/* content type (image/jpeg, image/png, ...).");
        }
        // Room first, body second: a full server turns a request away without buffering it.
        using EmbeddingService.Reservation? reservation = service.TryReserve(1);
        if (reservation is null)
        {
            return Busy(request.HttpContext, service, metrics);
        }
        ImageBytes body;
        try
        {
            body = await ImageBytes.ReadAsync(request.Body, request.ContentLength, service.Bodies, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The image had its room in the queue (ijepa_queue_depth counted it) and ends here, so its outcome is
            // counted here too: an admitted image ends encoded, failed or cancelled (or 503 at the shutdown deadline). Over the size limit (413) it
            // is refused; any other way the read ends early (the connection reset, or closed before the declared
            // length, which Kestrel may report before it signals the abort) the client did not deliver it. The room
            // is given back first, so that whoever sees the outcome counted also sees the queue without it.
            reservation.Dispose();
            if (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                metrics.ImageFailed();
            }
            else
            {
                metrics.ImageCancelled();
            }
            if (cancellationToken.IsCancellationRequested)
            {
                return Results.Empty;
            }
            throw; // Kestrel's own errors keep their status (413; 400 for a body cut short)
        }
        try
        {
            // The job owns the body from here, and gives its buffer back once it is decoded.
            ImageEmbedding embedding = await reservation.EmbedAsync(body, "image", cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
            return Results.Ok(new EmbedResponse(service.ModelId, service.Dimension, embedding.Pooled, Patches(embedding, patches), Grid(embedding, patches)));
        }
        catch (ImageDecodeException e)
        {
            metrics.ImageFailed();
            return Unusable(e);
        }
        catch (ServiceUnavailableException)
        {
            return Busy(request.HttpContext, service, metrics);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Results.Empty; // the client is gone
        }
    }

    private static async Task<IResult> EmbedBatchAsync(HttpRequest request, EmbeddingService service, ServerMetrics metrics, IOptions<EmbeddingServerOptions> options,
        bool? patches, CancellationToken cancellationToken)
    {
        var images = new List<BatchImage>();
        bool handedOver = false;
        try
        {
            return await EmbedImagesAsync(request, service, metrics, options, patches, images, () => handedOver = true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!handedOver)
            {
                // Turned away (busy, too many, cancelled): the buffers read so far go back to the pool.
                images.ForEach(i => i.Bytes?.Dispose());
            }
        }
    }

    private static async Task<IResult> EmbedImagesAsync(HttpRequest request, EmbeddingService service, ServerMetrics metrics, IOptions<EmbeddingServerOptions> options,
        bool? patches, List<BatchImage> images, Action handOver, CancellationToken cancellationToken)
    {
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out MediaTypeHeaderValue? type) && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            IFormCollection form = await request.ReadFormAsync(cancellationToken).ConfigureAwait(false);
            foreach (IFormFile file in form.Files)
            {
                await using Stream stream = file.OpenReadStream();
                images.Add(new BatchImage(file.FileName is { Length: > 0 } name ? name : file.Name, await ImageBytes.ReadAsync(stream, file.Length, service.Bodies, cancellationToken).ConfigureAwait(false), null));
            }
        }
        else if (request.HasJsonContentType())
        {
            BatchRequest? body;
            try
            {
                body = await request.ReadFromJsonAsync<BatchRequest>(cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException e)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed JSON", detail: e.Message);
            }
            images.AddRange((body?.Images ?? []).Select((text, i) => FromText(i, text)));
        }
        else
        {
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: $"POST a multipart/form-data form of image files, or application/json {{\"images\": [base64 or data: URL, ...]}}, not '{request.ContentType}'.");
        }
        if (images.Count == 0)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "No images", detail: "The request holds no images.");
        }
        int limit = options.Value.MaxQueue;
        if (images.Count > limit)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too many images",
                detail: $"{images.Count} images in one request; this server takes at most {limit} (its queue's size).");
        }
        using EmbeddingService.Reservation? reservation = service.TryReserve(images.Count(i => i.Error is null));
        if (reservation is null)
        {
            return Busy(request.HttpContext, service, metrics);
        }
        handOver();
        Task<ImageEmbedding>?[] tasks = images.Select(i => i.Error is null ? reservation.EmbedAsync(i.Bytes!, i.Name, cancellationToken) : null).ToArray();
        try
        {
            await Task.WhenAll(tasks.OfType<Task<ImageEmbedding>>()).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Results.Empty;
        }
        catch (Exception)
        {
            // Each image's own outcome is read below.
        }
        var results = new BatchItem[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            results[i] = tasks[i] switch
            {
                null => Failed(i, images[i], metrics, Unprocessable(images[i].Error!)),
                { IsCompletedSuccessfully: true, Result: var e } => new BatchItem(i, images[i].Name, e.Pooled, Patches(e, patches), Grid(e, patches), null),
                { Exception.InnerException: ImageDecodeException e } => Failed(i, images[i], metrics, Unprocessable(e.Problem)),
                { Exception.InnerException: ServiceUnavailableException } => new BatchItem(i, images[i].Name, null, null, null,
                    new ProblemDetails { Status = StatusCodes.Status503ServiceUnavailable, Title = "Busy", Detail = "The server is busy; retry later." }),
                _ => new BatchItem(i, images[i].Name, null, null, null,
                    new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "Internal error" }),
            };
        }
        return Results.Ok(new BatchResponse(service.ModelId, service.Dimension, results));
    }

    private static BatchItem Failed(int index, BatchImage image, ServerMetrics metrics, ProblemDetails problem)
    {
        metrics.ImageFailed();
        return new BatchItem(index, image.Name, null, null, null, problem);
    }

    private static ProblemDetails Unprocessable(string reason) =>
        new() { Status = StatusCodes.Status422UnprocessableEntity, Title = "Unusable image", Detail = reason };

    /// <summary>One JSON image: base64, or a data: URL holding base64.</summary>
    private static BatchImage FromText(int index, string? text)
    {
        string name = $"images[{index}]";
        if (text is null)
        {
            return new BatchImage(name, null, "null instead of an image");
        }
        ReadOnlySpan<char> payload = text;
        if (payload.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            int comma = payload.IndexOf(',');
            if (comma < 0 || !payload[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            {
                return new BatchImage(name, null, "a data: URL must be base64 (data:image/png;base64,...)");
            }
            payload = payload[(comma + 1)..];
        }
        try
        {
            return new BatchImage(name, ImageBytes.Wrap(Convert.FromBase64String(payload.ToString())), null);
        }
        catch (FormatException)
        {
            return new BatchImage(name, null, "not valid base64");
        }
    }

    private static float[][]? Patches(ImageEmbedding embedding, bool? wanted)
    {
        if (wanted != true)
        {
            return null;
        }
        int tokens = embedding.GridHeight * embedding.GridWidth, dimension = embedding.Dimension;
        var rows = new float[tokens][];
        for (int t = 0; t < tokens; t++)
        {
            rows[t] = embedding.Patches.AsSpan(t * dimension, dimension).ToArray();
        }
        return rows;
    }

    private static int[]? Grid(ImageEmbedding embedding, bool? wanted) => wanted == true ? [embedding.GridHeight, embedding.GridWidth] : null;

    private static IResult Unusable(ImageDecodeException e) =>
        Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Unusable image", detail: e.Problem);

    private static IResult Busy(HttpContext context, EmbeddingService service, ServerMetrics metrics)
    {
        metrics.Rejected();
        context.Response.Headers.RetryAfter = RetryAfterSeconds;
        return service.Ready
            ? Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy", detail: "The queue is full; retry after the Retry-After delay.")
            : Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Not ready", detail: "The model is loading, or the server is stopping.");
    }

    private sealed record BatchImage(string Name, ImageBytes? Bytes, string? Error);
}

/// <summary>GET /health.</summary>
/// <param name="Status">Always "ok".</param>
internal sealed record HealthResponse(string Status);

/// <summary>GET /ready.</summary>
/// <param name="Status">"ready".</param>
/// <param name="Model">The model's id.</param>
/// <param name="Dimension">Length of the pooled embedding.</param>
internal sealed record ReadyResponse(string Status, string Model, int Dimension);

/// <summary>POST /embed.</summary>
/// <param name="Model">The model's id.</param>
/// <param name="Dimension">Length of <paramref name="Pooled"/>.</param>
/// <param name="Pooled">Mean of the final patch embeddings: the image's vector.</param>
/// <param name="Patches">With ?patches=true: the final patch embeddings, [tokens][dimension], row-major over the grid.</param>
/// <param name="Grid">With ?patches=true: [rows, columns] of the patch grid.</param>
internal sealed record EmbedResponse(string Model, int Dimension, float[] Pooled, float[][]? Patches, int[]? Grid);

/// <summary>POST /embed/batch as JSON.</summary>
/// <param name="Images">Each image as base64, or as a data: URL (data:image/png;base64,...).</param>
internal sealed record BatchRequest(string?[]? Images);

/// <summary>POST /embed/batch's answer.</summary>
/// <param name="Model">The model's id.</param>
/// <param name="Dimension">Length of each pooled embedding.</param>
/// <param name="Results">One per image, in request order.</param>
internal sealed record BatchResponse(string Model, int Dimension, BatchItem[] Results);

/// <summary>One image of a batch: its embedding, or its error.</summary>
/// <param name="Index">Position in the request.</param>
/// <param name="Name">The form file's name, or images[i].</param>
/// <param name="Pooled">The pooled embedding; null when it failed.</param>
/// <param name="Patches">With ?patches=true: [tokens][dimension].</param>
/// <param name="Grid">With ?patches=true: [rows, columns].</param>
/// <param name="Error">Why it failed (422: unusable image); null when it succeeded.</param>
internal sealed record BatchItem(int Index, string Name, float[]? Pooled, float[][]? Patches, int[]? Grid, ProblemDetails? Error);
