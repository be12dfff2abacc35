namespace IJepa.Fuzz;

/// <summary>Resident-memory readings that leave out what allocators merely cache.</summary>
public static class Settle
{
    /// <summary>
    /// Resident memory with the caches that are not retention let go: a compacting collection (large
    /// objects included) and glibc's malloc_trim, which hands free native pages back. Without them the
    /// reading swings by ±25 % with whatever the allocators happen to be holding at that moment.
    /// </summary>
    public static long Resident()
    {
        IJepa.Preprocessing.ImagePreprocessor.TrimCaches();
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        if (OperatingSystem.IsLinux())
        {
            _ = MallocTrim(0);
        }
        return Environment.WorkingSet;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
