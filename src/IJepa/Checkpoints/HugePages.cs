using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace IJepa.Checkpoints;

/// <summary>
/// Asks Linux to back a large, not yet touched tensor with transparent huge pages (madvise
/// MADV_HUGEPAGE): loading a checkpoint is mostly page faults on fresh parameter memory, and 2 MiB
/// pages need 512 times fewer. Only a hint: where THP is off or the call fails, nothing changes.
/// </summary>
internal static partial class HugePages
{
    private const int MadvHugePage = 14;
    private const long HugePageSize = 2L << 20;

    public static unsafe void Advise(Tensor tensor)
    {
        if (!OperatingSystem.IsLinux() || tensor.device_type != TorchSharp.DeviceType.CPU)
        {
            return;
        }
        long bytes = tensor.NumberOfElements * tensor.ElementSize;
        if (bytes < 2 * HugePageSize)
        {
            return;
        }
        long start;
        fixed (byte* data = tensor.bytes)
        {
            start = (long)data;
        }
        long alignedStart = (start + HugePageSize - 1) & ~(HugePageSize - 1);
        long alignedEnd = (start + bytes) & ~(HugePageSize - 1);
        if (alignedEnd > alignedStart)
        {
            _ = Madvise((nint)alignedStart, (nuint)(alignedEnd - alignedStart), MadvHugePage);
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
