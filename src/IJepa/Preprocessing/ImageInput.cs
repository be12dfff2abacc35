using SixLabors.ImageSharp;

namespace IJepa.Preprocessing;

/// <summary>
/// One image to encode: a file, a stream, encoded bytes or an ImageSharp image. <see cref="Name"/>
/// identifies it in results and errors.
/// </summary>
public sealed class ImageInput
{
    private readonly string? _path;
    private readonly Func<Stream>? _open;
    private readonly Image? _image;
    private readonly bool _fromPath;

    private ImageInput(string name, string? path, Func<Stream>? open, Image? image, bool fromPath = false)
    {
        Name = name;
        _path = path;
        _open = open;
        _image = image;
        _fromPath = fromPath || path != null;
    }

    /// <summary>The file path, or the name given for a stream, buffer or image.</summary>
    public string Name { get; }

    /// <summary>Whether this is a file opened by its path, which Pillow reads a little differently (see ImageLoader.Decode).</summary>
    internal bool FromPath => _fromPath;

    /// <summary>An image file (JPEG, PNG, GIF, BMP, TIFF, WebP, TGA, PBM).</summary>
    public static ImageInput FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ImageInput(path, path, null, null);
    }

    /// <summary>
    /// An image file whose <paramref name="contents"/> the caller has already read (to hash them, say), decoded as
    /// the file at <paramref name="path"/> is: Pillow reads a few damaged files opened by path differently from the
    /// same bytes (README, "A file or its bytes").
    /// </summary>
    public static ImageInput FromFile(string path, ReadOnlyMemory<byte> contents)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ImageInput(path, null, Over(contents), null, fromPath: true);
    }

    /// <summary>Encoded image bytes.</summary>
    public static ImageInput FromBytes(ReadOnlyMemory<byte> bytes, string? name = null) =>
        new(name ?? $"bytes[{bytes.Length}]", null, Over(bytes), null);

    // A stream over the caller's buffer where there is one, rather than a copy of it per decode.
    private static Func<Stream> Over(ReadOnlyMemory<byte> bytes) => () => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out ArraySegment<byte> segment)
        ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false, publiclyVisible: true)
        : new MemoryStream(bytes.ToArray(), 0, bytes.Length, writable: false, publiclyVisible: true);

    /// <summary>An open stream of encoded image bytes, read from its current position. The caller keeps ownership.</summary>
    public static ImageInput FromStream(Stream stream, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new ImageInput(name ?? "stream", null, () => new NonClosingStream(stream), null);
    }

    /// <summary>A decoded ImageSharp image (its EXIF orientation is applied; the caller keeps ownership).</summary>
    public static ImageInput FromImage(Image image, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new ImageInput(name ?? $"image {image.Width}x{image.Height}", null, null, image);
    }

    internal RgbImage Decode(long maxPixels, ImageDecoding decoding = ImageDecoding.Native, int reduceTo = 0)
    {
        if (_image != null)
        {
            return ImageLoader.FromImage(_image, Name, maxPixels);
        }
        Stream stream;
        if (_path != null)
        {
            try
            {
                stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageDecodeException(_path, $"cannot open the file: {e.Message}", e);
            }
        }
        else
        {
            stream = _open!();
        }
        using (stream)
        {
            return ImageLoader.Decode(stream, Name, maxPixels, decoding, reduceTo, _fromPath);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => inner.CanSeek;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => inner.Position = value; }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
