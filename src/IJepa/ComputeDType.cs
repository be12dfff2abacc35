namespace IJepa;

/// <summary>The number format the encoder computes in.</summary>
public enum ComputeDType
{
    /// <summary>32-bit float: matches Python's float32 outputs within 1e-4 relative.</summary>
    Float32,

    /// <summary>bfloat16: faster where the CPU has BF16 instructions (AVX-512 BF16, AMX) and on GPUs.</summary>
    BFloat16,

    /// <summary>16-bit float, mainly for GPUs.</summary>
    Float16,
}
