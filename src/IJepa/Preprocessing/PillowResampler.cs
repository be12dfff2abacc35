namespace IJepa.Preprocessing;

/// <summary>
/// Resizes 8-bit RGB exactly as Pillow's <c>Image.resize</c> does (libImaging/Resample.c), so that
/// pixels match Python's bit for bit: separable convolution with the kernel support widened by the
/// downscale factor (antialiasing), coefficients normalized per output pixel and converted to 22-bit
/// fixed point, horizontal pass first over just the rows the vertical pass needs, rounding to
/// uint8 after each pass. ImageSharp's own resamplers are close to this but not identical.
/// </summary>
internal static class PillowResampler
{
    private const int PrecisionBits = 32 - 8 - 2;

    public static RgbImage Resize(RgbImage source, int width, int height, ResampleFilter filter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (width == source.Width && height == source.Height)
        {
            return source;
        }
        (Func<double, double> kernel, double support) = Kernel(filter);
        Coefficients horizontal = Precompute(source.Width, width, kernel, support);
        Coefficients vertical = Precompute(source.Height, height, kernel, support);

        // Only the source rows that some output row reads go through the horizontal pass.
        int firstRow = vertical.Bounds[0];
        int lastRow = vertical.Bounds[(height * 2) - 2] + vertical.Bounds[(height * 2) - 1];
        RgbImage current = source;
        int rowOffset = 0;
        if (width != source.Width)
        {
            current = ResampleHorizontal(source, width, firstRow, lastRow - firstRow, horizontal);
            rowOffset = firstRow;
        }
        if (height != source.Height)
        {
            current = ResampleVertical(current, height, rowOffset, vertical);
        }
        return current;
    }

    private sealed record Coefficients(int KernelSize, int[] Bounds, int[] Weights);

    private static (Func<double, double> Kernel, double Support) Kernel(ResampleFilter filter) => filter switch
    {
        ResampleFilter.Box => (BoxFilter, 0.5),
        ResampleFilter.Bilinear => (BilinearFilter, 1.0),
        ResampleFilter.Hamming => (HammingFilter, 1.0),
        ResampleFilter.Bicubic => (BicubicFilter, 2.0),
        ResampleFilter.Lanczos => (LanczosFilter, 3.0),
        _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, "unsupported resampling filter"),
    };

    private static double BoxFilter(double x) => x > -0.5 && x <= 0.5 ? 1.0 : 0.0;

    private static double BilinearFilter(double x)
    {
        if (x < 0.0)
        {
            x = -x;
        }
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static double HammingFilter(double x)
    {
        if (x < 0.0)
        {
            x = -x;
        }
        if (x == 0.0)
        {
            return 1.0;
        }
        if (x >= 1.0)
        {
            return 0.0;
        }
        x *= Math.PI;
        return Math.Sin(x) / x * (0.54 + (0.46 * Math.Cos(x)));
    }

    private static double BicubicFilter(double x)
    {
        const double A = -0.5;
        if (x < 0.0)
        {
            x = -x;
        }
        if (x < 1.0)
        {
            return (((A + 2.0) * x) - (A + 3.0)) * x * x + 1;
        }
        if (x < 2.0)
        {
            return (((((x - 5) * x) + 8) * x) - 4) * A;
        }
        return 0.0;
    }

    private static double Sinc(double x)
    {
        if (x == 0.0)
        {
            return 1.0;
        }
        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    private static double LanczosFilter(double x) => x >= -3.0 && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0;

    /// <summary>Pillow's precompute_coeffs followed by normalize_coeffs_8bpc, for the full source extent.</summary>
    private static Coefficients Precompute(int inSize, int outSize, Func<double, double> kernel, double kernelSupport)
    {
        double scale = (double)inSize / outSize;
        double filterScale = scale < 1.0 ? 1.0 : scale;
        double support = kernelSupport * filterScale;
        int kernelSize = ((int)Math.Ceiling(support) * 2) + 1;
        int[] bounds = new int[outSize * 2];
        int[] weights = new int[outSize * kernelSize];
        double[] k = new double[kernelSize];
        double inverseScale = 1.0 / filterScale;
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double total = 0.0;
            int xmin = (int)(center - support + 0.5);
            if (xmin < 0)
            {
                xmin = 0;
            }
            int xmax = (int)(center + support + 0.5);
            if (xmax > inSize)
            {
                xmax = inSize;
            }
            xmax -= xmin;
            for (int x = 0; x < xmax; x++)
            {
                double w = kernel((x + xmin - center + 0.5) * inverseScale);
                k[x] = w;
                total += w;
            }
            for (int x = 0; x < xmax; x++)
            {
                if (total != 0.0)
                {
                    k[x] /= total;
                }
                double fixedPoint = k[x] * (1 << PrecisionBits);
                weights[(xx * kernelSize) + x] = k[x] < 0 ? (int)(-0.5 + fixedPoint) : (int)(0.5 + fixedPoint);
            }
            bounds[xx * 2] = xmin;
            bounds[(xx * 2) + 1] = xmax;
        }
        return new Coefficients(kernelSize, bounds, weights);
    }

    private static byte Clip8(int value)
    {
        int shifted = value >> PrecisionBits;
        return shifted < 0 ? (byte)0 : shifted > 255 ? (byte)255 : (byte)shifted;
    }

    private static RgbImage ResampleHorizontal(RgbImage source, int width, int firstRow, int rows, Coefficients c)
    {
        byte[] input = source.Pixels;
        byte[] output = new byte[width * rows * 3];
        int sourceStride = source.Width * 3;
        for (int y = 0; y < rows; y++)
        {
            int rowStart = (y + firstRow) * sourceStride;
            int outRow = y * width * 3;
            for (int xx = 0; xx < width; xx++)
            {
                int xmin = c.Bounds[xx * 2], xmax = c.Bounds[(xx * 2) + 1];
                ReadOnlySpan<int> k = c.Weights.AsSpan(xx * c.KernelSize, xmax);
                int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                int p = rowStart + (xmin * 3);
                for (int x = 0; x < k.Length; x++, p += 3)
                {
                    int w = k[x];
                    s0 += input[p] * w;
                    s1 += input[p + 1] * w;
                    s2 += input[p + 2] * w;
                }
                int o = outRow + (xx * 3);
                output[o] = Clip8(s0);
                output[o + 1] = Clip8(s1);
                output[o + 2] = Clip8(s2);
            }
        }
        return new RgbImage(width, rows, output);
    }

    private static RgbImage ResampleVertical(RgbImage source, int height, int rowOffset, Coefficients c)
    {
        byte[] input = source.Pixels;
        int stride = source.Width * 3;
        byte[] output = new byte[stride * height];
        int[] sums = new int[stride];
        for (int yy = 0; yy < height; yy++)
        {
            int ymin = c.Bounds[yy * 2] - rowOffset, ymax = c.Bounds[(yy * 2) + 1];
            ReadOnlySpan<int> k = c.Weights.AsSpan(yy * c.KernelSize, ymax);
            Array.Fill(sums, 1 << (PrecisionBits - 1));
            for (int y = 0; y < k.Length; y++)
            {
                int w = k[y];
                ReadOnlySpan<byte> row = input.AsSpan((ymin + y) * stride, stride);
                for (int i = 0; i < row.Length; i++)
                {
                    sums[i] += row[i] * w;
                }
            }
            Span<byte> outRow = output.AsSpan(yy * stride, stride);
            for (int i = 0; i < stride; i++)
            {
                outRow[i] = Clip8(sums[i]);
            }
        }
        return new RgbImage(source.Width, height, output);
    }
}
