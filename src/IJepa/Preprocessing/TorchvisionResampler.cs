using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Preprocessing;

/// <summary>
/// torchvision's tensor resize (<c>torchvision.transforms.v2.functional.resize</c>, antialias on) for uint8 RGB
/// images on the CPU. torchvision hands bicubic uint8 images straight to libtorch's antialiased uint8 kernel, and
/// bilinear ones too where libtorch runs its AVX2 kernels (the common x86 build); that kernel works in fixed point
/// with int16 weights, which is why its output differs from Pillow's by a level here and there. Calling the same
/// libtorch function gives the same bytes; a port would have to track its rounding release by release.
/// </summary>
internal static class TorchvisionResampler
{
    // throughFloat: torchvision's other route, uint8 → float32 → interpolate → (clamp for bicubic) → round → uint8.
    public static RgbImage Resize(RgbImage source, int width, int height, ResampleFilter filter, bool throughFloat = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (width == source.Width && height == source.Height)
        {
            return source; // torchvision returns the tensor untouched
        }
        InterpolationMode mode = filter switch
        {
            ResampleFilter.Bilinear => InterpolationMode.Bilinear,
            ResampleFilter.Bicubic => InterpolationMode.Bicubic,
            _ => throw new NotSupportedException($"torchvision resizes tensors with bilinear or bicubic only, not {filter}"),
        };
        IJepaRuntime.EnsureInitialized();
        RgbImage result = RgbImage.Rent(width, height);
        try
        {
            // The interleaved pixels viewed as channels-last NCHW: libtorch's uint8 kernels take either layout
            // and give the same bytes, and a channels-last output reads back as interleaved RGB without a transpose.
            // The tensor shares the pooled array (pinned until the last view is disposed, below) rather than copying
            // it: a copy was a native allocation the size of the photo per image (up to tens of MB), sized
            // differently for every photo, and under a long server load malloc's free space fragmented around them.
            using Tensor flat = frombuffer(source.Pixels, ScalarType.Byte, count: source.Length);
            using Tensor interleaved = flat.view(1, source.Height, source.Width, 3);
            using Tensor input = interleaved.permute(0, 3, 1, 2);
            using Tensor output = throughFloat ? ThroughFloat(input, height, width, mode) : nn.functional.interpolate(input, [height, width], mode: mode, align_corners: false, antialias: true);
            using Tensor channelsLast = output.permute(0, 2, 3, 1);
            using Tensor packed = channelsLast.contiguous();
            packed.bytes.CopyTo(result.Data);
            return result;
        }
        catch
        {
            result.Release();
            throw;
        }
    }

    private static Tensor ThroughFloat(Tensor input, int height, int width, InterpolationMode mode)
    {
        using Tensor floats = input.to(ScalarType.Float32);
        using Tensor resized = nn.functional.interpolate(floats, [height, width], mode: mode, align_corners: false, antialias: true);
        // In-place, as torchvision does; both return the receiver itself.
        if (mode == InterpolationMode.Bicubic)
        {
            // Bounds held until the call returns: a temporary Scalar can be finalized while libtorch reads it.
            using Scalar low = 0.ToScalar(), high = 255.ToScalar();
            _ = resized.clamp_(low, high);
        }
        _ = resized.round_();
        return resized.to(ScalarType.Byte);
    }
}
