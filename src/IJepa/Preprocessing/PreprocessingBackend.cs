namespace IJepa.Preprocessing;

/// <summary>
/// Which Python image pipeline the preprocessing reproduces. transformers 5 ships two image processors for
/// every model, and they differ in the last level of a few pixels: this choice says which one to match.
/// </summary>
public enum PreprocessingBackend
{
    /// <summary>
    /// transformers 5's default <c>ViTImageProcessor</c> (what <c>AutoImageProcessor.from_pretrained</c> returns):
    /// torchvision resizes the uint8 tensor with libtorch's antialiased kernel, and rescaling and normalization are
    /// fused into one float32 step, (x − mean / rescale) / (std / rescale). The resize here is that same libtorch
    /// call. Bilinear and bicubic only, as torchvision's tensor resize.
    /// </summary>
    Torchvision,

    /// <summary>
    /// <c>ViTImageProcessor</c> where torchvision resizes through float32 instead: it converts the uint8 image to
    /// float32, interpolates (antialiased), clamps bicubic results to 0–255, rounds, and converts back. torchvision
    /// does this for bilinear on CPUs where libtorch runs its AVX-512 kernels (<c>torch.backends.cpu.get_cpu_capability()</c>
    /// is not "AVX2") and for every filter on a GPU (there libtorch's CUDA arithmetic may still round a few pixels
    /// differently). Normalization as <see cref="Torchvision"/>.
    /// </summary>
    TorchvisionFloat,

    /// <summary>
    /// transformers 5's <c>ViTImageProcessorPil</c> and transformers 4's <c>ViTImageProcessor</c>: Pillow's resize
    /// (reproduced exactly), rescaling in float64, normalization in float32 — see <see cref="RescaleArithmetic"/>.
    /// Also the right choice for torchvision transforms applied to PIL images (timm's evaluation transform).
    /// </summary>
    Pil,
}
