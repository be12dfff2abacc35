using TorchSharp;

namespace IJepa.Runtime;

/// <summary>
/// Scalars that live as long as the process. TorchSharp frees a <see cref="Scalar"/>'s native value in its finalizer,
/// and a tensor method passes libtorch only the handle, so a Scalar that nothing holds can be freed while libtorch
/// still reads it: <c>x.add_(y)</c> makes one for alpha 1 at every call, which crashed FeatureDump under load (README,
/// Reliability). Static fields are roots, so these are never finalized; libtorch only reads them, from any thread.
/// </summary>
internal static class HeldScalars
{
    /// <summary>0, the start of <c>arange</c>.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>1: add's alpha, and <c>arange</c>'s step.</summary>
    public static readonly Scalar One = 1.ToScalar();
}
