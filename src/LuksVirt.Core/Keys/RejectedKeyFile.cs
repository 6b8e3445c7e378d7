namespace LuksVirt.Core.Keys;

/// <summary>A refused key file: its sanitised name and why, e.g. "is a symbolic link (not followed)".</summary>
internal sealed record RejectedKeyFile(string Name, string Reason);
