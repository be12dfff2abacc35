namespace IJepa.Masking;

/// <summary>
/// One image's I-JEPA masks: the visible context block and the hidden target blocks, as patch indices
/// (row-major on the patch grid, ascending).
/// </summary>
/// <param name="Context">Indices the context encoder sees.</param>
/// <param name="Targets">One index list per target block; all of the same length.</param>
public sealed record MaskSet(IReadOnlyList<int> Context, IReadOnlyList<IReadOnlyList<int>> Targets);
