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
            RgbImage intermediate = current;
            current = ResampleVertical(intermediate, height, rowOffset, vertical);
            if (intermediate != source)
            {
                intermediate.Release();
            }
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

    // The inner loops use pointers: bounds checks cost more than the arithmetic here, and preprocessing must keep ahead of the encoder.
    private static unsafe RgbImage ResampleHorizontal(RgbImage source, int width, int firstRow, int rows, Coefficients c)
    {
        RgbImage result = RgbImage.Rent(width, rows);
        int sourceStride = source.Width * 3;
        fixed (byte* input = source.Pixels, outBase = result.Pixels)
        fixed (int* bounds = c.Bounds, weights = c.Weights)
        {
            for (int y = 0; y < rows; y++)
            {
                byte* row = input + ((long)(y + firstRow) * sourceStride);
                byte* o = outBase + ((long)y * width * 3);
                for (int xx = 0; xx < width; xx++, o += 3)
                {
                    int xmax = bounds[(xx * 2) + 1];
                    int* k = weights + (xx * c.KernelSize);
                    byte* p = row + (bounds[xx * 2] * 3);
                    int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                    for (int x = 0; x < xmax; x++, p += 3)
                    {
                        int w = k[x];
                        s0 += p[0] * w;
                        s1 += p[1] * w;
                        s2 += p[2] * w;
                    }
                    o[0] = Clip8(s0);
                    o[1] = Clip8(s1);
                    o[2] = Clip8(s2);
                }
            }
        }
        return result;
    }

    private static unsafe RgbImage ResampleVertical(RgbImage source, int height, int rowOffset, Coefficients c)
    {
        int stride = source.Width * 3;
        RgbImage result = RgbImage.Rent(source.Width, height);
        int[] sums = new int[stride];
        fixed (byte* input = source.Pixels, outBase = result.Pixels)
        fixed (int* s = sums, bounds = c.Bounds, weights = c.Weights)
        {
            for (int yy = 0; yy < height; yy++)
            {
                int ymin = bounds[yy * 2] - rowOffset, ymax = bounds[(yy * 2) + 1];
                int* k = weights + (yy * c.KernelSize);
                new Span<int>(s, stride).Fill(1 << (PrecisionBits - 1));
                for (int y = 0; y < ymax; y++)
                {
                    int w = k[y];
                    byte* row = input + ((long)(ymin + y) * stride);
                    for (int i = 0; i < stride; i++)
                    {
                        s[i] += row[i] * w;
                    }
                }
                byte* o = outBase + ((long)yy * stride);
                for (int i = 0; i < stride; i++)
                {
                    o[i] = Clip8(s[i]);
                }
            }
        }
        return result;
    }
}
