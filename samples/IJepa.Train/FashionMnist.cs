using System.Buffers.Binary;
using System.IO.Compression;

namespace IJepa.Train;

/// <summary>
/// Fashion-MNIST (and MNIST) in its original idx format, gzipped: 28×28 grayscale images and their labels
/// (t-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot).
/// </summary>
internal sealed class FashionMnist
{
    private FashionMnist(byte[] pixels, byte[] labels, int count, int rows, int columns)
    {
        Pixels = pixels;
        Labels = labels;
        Count = count;
        Rows = rows;
        Columns = columns;
    }

    public byte[] Pixels { get; }

    public byte[] Labels { get; }

    public int Count { get; }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>Reads the split <paramref name="split"/> ("train" or "t10k") from a folder of the four .gz files.</summary>
    public static FashionMnist Load(string directory, string split)
    {
        byte[] images = ReadGzip(Path.Combine(directory, $"{split}-images-idx3-ubyte.gz"));
        byte[] labels = ReadGzip(Path.Combine(directory, $"{split}-labels-idx1-ubyte.gz"));
        if (BinaryPrimitives.ReadInt32BigEndian(images) != 2051 || BinaryPrimitives.ReadInt32BigEndian(labels) != 2049)
        {
            throw new InvalidDataException($"{directory}: not idx image/label files");
        }
        int count = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        int rows = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8));
        int columns = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        if (BinaryPrimitives.ReadInt32BigEndian(labels.AsSpan(4)) != count || images.Length != 16 + (count * rows * columns) || labels.Length != 8 + count)
        {
            throw new InvalidDataException($"{directory}: {split} images and labels do not agree");
        }
        return new FashionMnist(images[16..], labels[8..], count, rows, columns);
    }

    private static byte[] ReadGzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray();
    }
}
