using System.Runtime.InteropServices;

namespace IJepa.Server;

/// <summary>
/// glibc's malloc statistics (<c>mallinfo2</c>, glibc 2.33 and later): the native part of the resident memory that
/// libtorch, the image decoders and Kestrel's native side allocate. Free bytes that grow while in-use bytes stay level
/// are memory malloc keeps rather than a leak. Absent (null) off Linux and on other C libraries (musl).
/// </summary>
internal static partial class NativeHeap
{
    // Apart: mallinfo2 needs glibc 2.33, malloc_trim only 2.8.
    private static bool _unavailable = !OperatingSystem.IsLinux();
    private static bool _trimUnavailable = !OperatingSystem.IsLinux();
    private static bool _mallOptUnavailable = !OperatingSystem.IsLinux();

    // glibc malloc.h.
    private const int MmapThreshold = -3;

    /// <summary>Bytes in use in malloc's arenas, free in them, and in use in chunks of their own mapping; null where unknown.</summary>
    public static (ulong InUse, ulong Free, ulong Mapped)? Read() =>
        Call<(ulong, ulong, ulong)?>(ref _unavailable, () =>
        {
            MallInfo2 info = MallInfo();
            return (info.Uordblks, info.Fordblks, info.Hblkhd);
        }, null);

    /// <summary>
    /// Gives malloc's free pages back to the kernel (<c>malloc_trim(0)</c>: the top of each arena and, since glibc 2.8,
    /// whole free pages inside them). False where nothing was released or glibc is absent.
    /// </summary>
    public static bool Trim() => Call(ref _trimUnavailable, () => MallocTrim(0) != 0, false);

    /// <summary>
    /// Fixes the size from which malloc serves a request with a mapping of its own, returned to the kernel when freed,
    /// where no free chunk in its arenas fits (<c>mallopt(M_MMAP_THRESHOLD)</c>, glibc). glibc otherwise raises that threshold to the largest block freed so
    /// far (up to 32 MiB), after which every tensor and decoder buffer of a varying batch is carved out of the arenas
    /// and their free space fragments. True when glibc took the value; false where it refused it or is absent.
    /// </summary>
    public static bool SetMmapThreshold(int bytes) => Call(ref _mallOptUnavailable, () => MallOpt(MmapThreshold, bytes) == 1, false);

    // Calls into libc until the entry point turns out to be missing (another C library, an older glibc), then answers
    // the fallback without trying again.
    private static T Call<T>(ref bool unavailable, Func<T> call, T fallback)
    {
        if (Volatile.Read(ref unavailable))
        {
            return fallback;
        }
        try
        {
            return call();
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref unavailable, true);
            return fallback;
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "mallinfo2")]
    private static partial MallInfo2 MallInfo();

    // The C struct: ten size_t fields in this order (glibc malloc.h).
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallInfo2
    {
        public readonly ulong Arena;
        public readonly ulong Ordblks;
        public readonly ulong Smblks;
        public readonly ulong Hblks;
        public readonly ulong Hblkhd;
        public readonly ulong Usmblks;
        public readonly ulong Fsmblks;
        public readonly ulong Uordblks;
        public readonly ulong Fordblks;
        public readonly ulong Keepcost;
    }
}
