using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa;

/// <summary>
/// Where libtorch comes from, and which devices it can use. By default TorchSharp loads the libtorch that a
/// package put beside the application (TorchSharp-cpu, TorchSharp-cuda-linux, ...). <see cref="UseLibTorch"/>
/// (or the <c>IJEPA_LIBTORCH</c> environment variable) loads it from a folder instead — for example an installed
/// PyTorch's <c>torch/lib</c>, which brings CUDA without any CUDA NuGet package and without
/// <c>LD_LIBRARY_PATH</c>.
/// </summary>
public static class IJepaRuntime
{
    /// <summary>The environment variable that names a libtorch folder to load (see <see cref="UseLibTorch"/>).</summary>
    public const string LibTorchEnvironmentVariable = "IJEPA_LIBTORCH";

    private static readonly object Gate = new();
    private static bool _environmentApplied;
    private static IJepaRuntimeException? _environmentError;
    private static string? _cudaLoadError;

    /// <summary>The folder <see cref="UseLibTorch"/> loaded libtorch from; null when libtorch comes from a package.</summary>
    public static string? LibTorchDirectory { get; private set; }

    /// <summary>
    /// Loads libtorch from <paramref name="directory"/> (the folder holding libtorch_cpu, libc10, libtorch and, for
    /// CUDA, libtorch_cuda: a PyTorch installation's <c>torch/lib</c>, a libtorch zip's <c>lib</c>, or a libtorch
    /// NuGet package's <c>runtimes/RID/native</c>). Call it before anything else touches TorchSharp; the
    /// application then needs only the managed <c>TorchSharp</c> package. Calling it again with the same folder
    /// does nothing.
    /// </summary>
    /// <exception cref="IJepaRuntimeException">
    /// The folder lacks libtorch, a library in it cannot be loaded, or another libtorch is already loaded in this process.
    /// </exception>
    public static void UseLibTorch(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        lock (Gate)
        {
            if (LibTorchDirectory is { } loaded)
            {
                if (string.Equals(loaded, full, StringComparison.Ordinal))
                {
                    return;
                }
                throw new IJepaRuntimeException($"libtorch is already loaded from {loaded}; a process can load only one libtorch, so {full} cannot be used as well.");
            }
            if (!Directory.Exists(full))
            {
                throw new IJepaRuntimeException($"libtorch folder {full} does not exist.");
            }
            if (!File.Exists(Path.Combine(full, LibraryFile("torch_cpu"))))
            {
                throw new IJepaRuntimeException($"{full} holds no {LibraryFile("torch_cpu")}: give the folder that holds libtorch's libraries (PyTorch's torch/lib, or libtorch's lib).");
            }
            if (LoadedLibraryPath("torch_cpu") is { } other && !string.Equals(Path.GetDirectoryName(other), full, StringComparison.Ordinal))
            {
                throw new IJepaRuntimeException(
                    $"libtorch is already loaded from {Path.GetDirectoryName(other)}, so {full} cannot be used: call IJepaRuntime.UseLibTorch (or set {LibTorchEnvironmentVariable}) before anything else uses TorchSharp.");
            }
            // Dependencies first: each library finds the ones before it by name among those already loaded.
            foreach (string name in new[] { "c10", "torch_cpu" })
            {
                Load(full, name, required: true);
            }
            if (File.Exists(Path.Combine(full, LibraryFile("torch_cuda"))))
            {
                // Where libtorch.so does not itself require the CUDA part, a CUDA part that cannot load (no driver,
                // missing CUDA libraries) still leaves the CPU usable, and the reason is kept for the error a CUDA
                // request gives. PyTorch's own builds link libtorch.so to libtorch_cuda.so: there loading fails
                // below, and that error carries this reason.
                _cudaLoadError = Load(full, "c10_cuda", required: false) ?? Load(full, "torch_cuda", required: false);
            }
            try
            {
                Load(full, "torch", required: true);
            }
            catch (IJepaRuntimeException e) when (_cudaLoadError is { } cudaError)
            {
                throw new IJepaRuntimeException($"{e.Message} (its CUDA part failed first: {cudaError}; check nvidia-smi and the CUDA libraries PyTorch was installed with)", e);
            }
            LibTorchDirectory = full;
        }
    }

    /// <summary>
    /// Makes libtorch's CPU threads sleep as soon as their part of an operation is done (<c>OMP_WAIT_POLICY=PASSIVE</c>)
    /// instead of spinning first: for a process whose other threads decode images on the same cores while the model
    /// runs, as in <see cref="IJepaEncoder.EncodeAsync"/>'s pipeline, the
    /// FeatureDump sample and the server. GNU OpenMP (libtorch on Linux) otherwise spins up to 300,000 times before it
    /// sleeps (100 times while it manages more threads than there are cores), and in some load runs the server spent
    /// up to 7 ms of CPU per image that way (README, Embedding server). Call it at start-up, before anything touches
    /// TorchSharp (OpenMP reads its settings once, when libtorch loads) and before starting threads of your own: it
    /// changes the C library's environment, which is not safe while another thread reads it. Off Windows, .NET's own
    /// view of the environment (<see cref="Environment.GetEnvironmentVariable(string)"/>) and the child processes it
    /// starts do not see the change.
    /// </summary>
    /// <returns>
    /// True when set; false, changing nothing, when <c>OMP_WAIT_POLICY</c>, <c>GOMP_SPINCOUNT</c> or <c>KMP_BLOCKTIME</c>
    /// is already set (the environment's choice wins), when libtorch is already loaded (known on Linux; elsewhere only
    /// when this library has used TorchSharp), or where the C library's <c>setenv</c> is missing.
    /// </returns>
    public static bool PreferPassiveThreadWaits() => PreferPassiveThreadWaits(Environment.GetEnvironmentVariable);

    internal static bool PreferPassiveThreadWaits(Func<string, string?> readEnvironment)
    {
        if (OpenMpWaits.EnvironmentChose(readEnvironment))
        {
            return false;
        }
        lock (Gate)
        {
            // This library's first use of TorchSharp, a folder load, or (Linux) libtorch among the mapped libraries.
            bool loaded = _environmentApplied || LibTorchDirectory is not null || LoadedLibraryPath("torch_cpu") is not null;
            return !loaded && OpenMpWaits.SetPassive();
        }
    }

    /// <summary>
    /// Checks that <paramref name="device"/> ("cpu", "cuda", "cuda:N") can be used here and returns it. For CUDA
    /// that means a CUDA build of libtorch is loaded and sees that GPU; otherwise the exception says which of
    /// these failed, why, and what to do.
    /// </summary>
    /// <exception cref="ArgumentException">The text is not a device name.</exception>
    /// <exception cref="IJepaRuntimeException">The device cannot be used here.</exception>
    public static Device ResolveDevice(string device)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        EnsureInitialized();
        string spec = device.Trim().ToLowerInvariant();
        Device cpu = LoadedCpu();
        if (spec is "cpu" or "cpu:0")
        {
            return cpu;
        }
        int index = 0;
        bool cudaName = spec == "cuda"
            || (spec.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(spec.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out index));
        if (!cudaName)
        {
            throw new ArgumentException($"Unknown device '{device}' (cpu, cuda, cuda:N).", nameof(device));
        }
        if (!cuda.is_available())
        {
            throw new IJepaRuntimeException($"Device '{device}' was requested, but {DiagnoseCuda()}");
        }
        int count = cuda.device_count();
        if (index >= count)
        {
            throw new IJepaRuntimeException($"Device '{device}' was requested, but this machine shows {count} GPU{(count == 1 ? "" : "s")} (cuda:0{(count > 1 ? $"..cuda:{count - 1}" : "")}); CUDA_VISIBLE_DEVICES={Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") ?? "(not set)"}.");
        }
        return torch.device(DeviceType.CUDA, index);
    }

    /// <summary>TorchSharp's CPU device, which makes TorchSharp load libtorch; a failure to do so becomes one clear error.</summary>
    private static Device LoadedCpu()
    {
        try
        {
            return CPU;
        }
        catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException)
        {
            Exception cause = e is TypeInitializationException { InnerException: { } inner } ? inner : e;
            throw new IJepaRuntimeException(
                $"libtorch cannot be loaded: {FirstLine(cause.Message)} Reference a libtorch package (TorchSharp-cpu, TorchSharp-cuda-linux) " +
                $"or load one from a folder with IJepaRuntime.UseLibTorch(dir), {LibTorchEnvironmentVariable}=dir or the samples' --libtorch dir.", cause);
        }
    }

    /// <summary>Applies <c>IJEPA_LIBTORCH</c> once, before the library's first use of TorchSharp.</summary>
    internal static void EnsureInitialized()
    {
        // Under the lock: a second thread must not reach TorchSharp (and load the package's libtorch) while the
        // first is still loading the folder; a failure is kept and thrown to every later caller, not skipped.
        lock (Gate)
        {
            if (!_environmentApplied)
            {
                _environmentApplied = true;
                if (Environment.GetEnvironmentVariable(LibTorchEnvironmentVariable) is { Length: > 0 } directory)
                {
                    try
                    {
                        UseLibTorch(directory);
                    }
                    catch (IJepaRuntimeException e)
                    {
                        _environmentError = new IJepaRuntimeException($"{LibTorchEnvironmentVariable}={directory}: {e.Message}", e);
                    }
                }
            }
            if (_environmentError is { } error)
            {
                throw error;
            }
        }
    }

    /// <summary>Why CUDA is not available, with what to do about it.</summary>
    private static string DiagnoseCuda()
    {
        string fix = $"Either build with the CUDA package (-p:IJepaTorchPackage=TorchSharp-cuda-linux), or load an installed PyTorch's libtorch: " +
            $"IJepaRuntime.UseLibTorch(dir), {LibTorchEnvironmentVariable}=dir or the samples' --libtorch dir, with dir from " +
            "python3 -c \"import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))\".";
        if (_cudaLoadError is { } loadError)
        {
            return $"the CUDA part of the libtorch in {LibTorchDirectory} cannot be loaded: {loadError}. " +
                "Check the NVIDIA driver (nvidia-smi) and that the CUDA libraries this PyTorch was installed with are present.";
        }
        if (!OperatingSystem.IsLinux())
        {
            // Which libraries are loaded is only read on Linux; elsewhere say what is known.
            return $"CUDA is not available to the libtorch in use: it is a CPU-only build, or it sees no GPU (check nvidia-smi and the driver). {fix}";
        }
        string? cudaPath = LoadedLibraryPath("torch_cuda");
        string? folder = LoadedLibraryPath("torch_cpu") is { } cpuPath ? Path.GetDirectoryName(cpuPath) : null;
        string where = folder is null ? "" : $" (loaded from {folder})";
        if (cudaPath is null)
        {
            if (folder is not null && File.Exists(Path.Combine(folder, LibraryFile("torch_cuda"))))
            {
                return $"{Path.Combine(folder, LibraryFile("torch_cuda"))} exists but was not loaded (a CUDA library or the driver is missing; LD_DEBUG=libs shows which). {fix}";
            }
            return $"the libtorch in use{where} is a CPU-only build: it has no libtorch_cuda. {fix}";
        }
        string visible = Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is { } v ? $" CUDA_VISIBLE_DEVICES is '{v}'." : "";
        return $"libtorch with CUDA is loaded ({cudaPath}) but sees no usable GPU: check nvidia-smi and that the NVIDIA driver is recent enough for this libtorch's CUDA version.{visible}";
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>The loader's own words (dlerror) from .NET's DllNotFoundException, whose first line is generic advice.</summary>
    private static string LoadReason(Exception e)
    {
        string[] lines = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length > 1 ? string.Join("; ", lines[1..]) : FirstLine(e.Message);
    }

    /// <summary>Loads one library by path; returns the reason when an optional one fails.</summary>
    private static string? Load(string directory, string name, bool required)
    {
        string path = Path.Combine(directory, LibraryFile(name));
        if (!File.Exists(path))
        {
            if (required)
            {
                throw new IJepaRuntimeException($"{directory} holds no {LibraryFile(name)}.");
            }
            return $"{LibraryFile(name)} is missing";
        }
        try
        {
            NativeLibrary.Load(path);
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            if (required)
            {
                throw new IJepaRuntimeException($"cannot load {path}: {LoadReason(e)}", e);
            }
            return LoadReason(e);
        }
    }

    private static string LibraryFile(string name) =>
        OperatingSystem.IsWindows() ? name + ".dll" : OperatingSystem.IsMacOS() ? "lib" + name + ".dylib" : "lib" + name + ".so";

    /// <summary>The path of a library this process has already mapped (Linux only; null elsewhere or when not loaded).</summary>
    private static string? LoadedLibraryPath(string name)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        string suffix = "/" + LibraryFile(name);
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0 && line.EndsWith(suffix, StringComparison.Ordinal))
                {
                    return line[slash..];
                }
            }
        }
        catch (IOException)
        {
        }
        return null;
    }
}

/// <summary>libtorch cannot be loaded as asked, or a requested device cannot be used. The message says why and what to do.</summary>
public sealed class IJepaRuntimeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public IJepaRuntimeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public IJepaRuntimeException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
