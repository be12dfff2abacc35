namespace IJepa.Preprocessing;

/// <summary>Resampling filters, with Pillow's numeric codes (as in <c>preprocessor_config.json</c>'s <c>resample</c>).</summary>
public enum ResampleFilter
{
    /// <summary>Lanczos (a = 3), Pillow code 1.</summary>
    Lanczos = 1,

    /// <summary>Bilinear (triangle), Pillow code 2: the I-JEPA checkpoints' choice.</summary>
    Bilinear = 2,

    /// <summary>Bicubic (a = −0.5), Pillow code 3: timm/torchvision evaluation.</summary>
    Bicubic = 3,

    /// <summary>Box, Pillow code 4.</summary>
    Box = 4,

    /// <summary>Hamming, Pillow code 5.</summary>
    Hamming = 5,
}
