namespace IJepa.Preprocessing;

/// <summary>How an image is brought to the model's input size.</summary>
public enum ResizeMode
{
    /// <summary>Resize straight to height × width, not keeping the aspect ratio (Hugging Face ViTImageProcessor).</summary>
    Stretch,

    /// <summary>
    /// Resize the shorter side to <see cref="PreprocessingOptions.ResizeShorterSide"/> (the longer side
    /// truncated as torchvision does), then center-crop to height × width (timm / the paper's evaluation).
    /// </summary>
    ShorterSideThenCenterCrop,
}
