namespace IJepa.Samples;

/// <summary>The samples' error exits: exit code 2 with one "error: ..." line on standard error.</summary>
internal static class Exit
{
    /// <summary>A problem with the command line: the message, then the usage text.</summary>
    public static int Usage(string message, string usage)
    {
        Console.Error.WriteLine($"error: {message}");
        Console.Error.WriteLine(usage);
        return 2;
    }

    /// <summary>A problem found while running (model, images, output): the message alone.</summary>
    public static int Error(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 2;
    }
}
