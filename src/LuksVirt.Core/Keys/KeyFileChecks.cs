namespace LuksVirt.Core.Keys;

/// <summary>What a key file must be besides a regular, non-empty file within the size limit.</summary>
internal enum KeyFileChecks
{
    /// <summary>Nothing more: a file an administrator names on the command line (<c>--key-file</c>).</summary>
    AsGiven,

    /// <summary>Also one name only (the wipe would change another name's file too), owned by root
    /// and writable by nobody else: a file dropped into the key directory, which LuksVirt removes
    /// after use. A directory is refused here as unsafe, never as merely "not a regular file".</summary>
    DroppedByRoot,
}
