namespace LuksVirt.Core.State;

/// <summary>The files LuksVirt keeps beside the state file, in its directory.</summary>
internal static class StateDirectory
{
    /// <summary><paramref name="fileName"/> in the directory of the state file <paramref name="statePath"/>.</summary>
    public static string FileBeside(string statePath, string fileName) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(statePath)) ?? "/", fileName);
}
