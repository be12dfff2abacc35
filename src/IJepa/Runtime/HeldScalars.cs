using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Runtime;

/// <summary>
/// Scalars that live as long as the process. TorchSharp frees a <see cref="Scalar"/>'s native value in its finalizer,
/// and a tensor method passes libtorch only the handle, so a Scalar that nothing holds can be freed while libtorch
/// still reads it: <c>x.add_(y)</c> makes one for alpha 1 at every call, which crashed FeatureDump under load (README,
/// Reliability). Static fields are roots, so these are never finalized; libtorch only reads them, from any thread.
/// Also here: the held-Scalar forms of the TorchSharp factories that BannedSymbols.txt bans for their hidden ones.
/// </summary>
internal static class HeldScalars
{
    /// <summary>0, the start of <c>arange</c>.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>1: add's alpha, and <c>arange</c>'s step.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary><c>torch.arange(stop, dtype)</c>: 0, 1, …, stop − 1.</summary>
    public static Tensor Arange(long stop, ScalarType dtype)
    {
        using Scalar end = stop.ToScalar();
        return arange(Zero, end, One, dtype);
    }

    /// <summary>
    /// <c>torch.normal(0, std, shape)</c> on the CPU, computed as TorchSharp computes it (randn · std + 0), so that a
    /// seed draws the same values as before.
    /// </summary>
    public static Tensor Normal(Scalar std, long[] shape, Generator generator) =>
        randn(shape, ScalarType.Float32, CPU, generator: generator).mul_(std).add_(Zero, One);
}
