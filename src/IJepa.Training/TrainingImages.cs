using static TorchSharp.torch;

namespace IJepa.Training;

/// <summary>
/// The paper's data side: a seeded data order per epoch and RandomResizedCrop (torchvision's parameters:
/// area share from <see cref="IJepaTrainingOptions.CropScale"/>, aspect ratio log-uniform in 3/4–4/3, ten
/// tries then a centre crop) resized bilinearly to the model's size, optionally flipped, then normalized.
/// Every draw comes from the run's seed, the step and the image's place in the batch, so a resumed run
/// sees the same crops.
/// </summary>
public static class TrainingImages
{
    /// <summary>The order in which an epoch visits <paramref name="count"/> images: a Fisher–Yates shuffle seeded by the run's seed and the epoch.</summary>
    public static int[] EpochOrder(int count, int seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int[] order = Enumerable.Range(0, count).ToArray();
        IJepaTrainer.StepRandom(seed, epoch, stream: 2).Shuffle(order);
        return order;
    }

    /// <summary>
    /// Augments and stacks images ([C, H, W] floats in 0–1, any size) into a normalized batch
    /// [B, C, S, S] for <see cref="IJepaTrainer.Step"/> at step <paramref name="step"/> (0-based: the trainer's
    /// <see cref="IJepaTrainer.StepCount"/> before the step).
    /// </summary>
    public static Tensor Batch(IReadOnlyList<Tensor> images, IJepaTrainingOptions options, long step)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(options);
        int size = options.Encoder.ImageSize;
        using var scope = NewDisposeScope();
        var crops = new Tensor[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            Random random = IJepaTrainer.StepRandom(options.Seed, (step * 1_000_003L) + i, stream: 3);
            crops[i] = RandomResizedCrop(images[i], size, options.CropScale, options.HorizontalFlip, random);
        }
        Tensor batch = stack(crops);
        using Tensor mean = tensor(options.ImageMean.Select(v => (float)v).ToArray()).view(1, -1, 1, 1);
        using Tensor std = tensor(options.ImageStd.Select(v => (float)v).ToArray()).view(1, -1, 1, 1);
        return batch.sub_(mean).div_(std).MoveToOuterDisposeScope();
    }

    /// <summary>One RandomResizedCrop of a [C, H, W] image to [C, size, size] (and a horizontal flip with probability ½ when asked).</summary>
    public static Tensor RandomResizedCrop(Tensor image, int size, (double Min, double Max) scale, bool flip, Random random)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(random);
        if (image.dim() != 3)
        {
            throw new ArgumentException($"An image must be [C, H, W]; got [{string.Join(",", image.shape)}].", nameof(image));
        }
        int height = (int)image.shape[1], width = (int)image.shape[2];
        (int top, int left, int h, int w) = CropBox(height, width, scale, random);
        using var scope = NewDisposeScope();
        Tensor crop = image.narrow(1, top, h).narrow(2, left, w).unsqueeze(0).to(ScalarType.Float32);
        Tensor resized = nn.functional.interpolate(crop, size: [size, size], mode: InterpolationMode.Bilinear, align_corners: false).squeeze(0);
        if (flip && random.NextDouble() < 0.5)
        {
            resized = resized.flip(2);
        }
        return resized.MoveToOuterDisposeScope();
    }

    private static (int Top, int Left, int H, int W) CropBox(int height, int width, (double Min, double Max) scale, Random random)
    {
        double area = height * (double)width;
        double logLow = Math.Log(3.0 / 4.0), logHigh = Math.Log(4.0 / 3.0);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (scale.Min + (random.NextDouble() * (scale.Max - scale.Min)));
            double ratio = Math.Exp(logLow + (random.NextDouble() * (logHigh - logLow)));
            int w = (int)Math.Round(Math.Sqrt(target * ratio), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(target / ratio), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                return (random.Next(0, height - h + 1), random.Next(0, width - w + 1), h, w);
            }
        }
        // As torchvision: a centre crop with the ratio clamped into the range.
        double inRatio = width / (double)height;
        int cw = width, ch = height;
        if (inRatio < 3.0 / 4.0)
        {
            ch = (int)Math.Round(width / (3.0 / 4.0), MidpointRounding.ToEven);
        }
        else if (inRatio > 4.0 / 3.0)
        {
            cw = (int)Math.Round(height * (4.0 / 3.0), MidpointRounding.ToEven);
        }
        return ((height - ch) / 2, (width - cw) / 2, ch, cw);
    }
}
