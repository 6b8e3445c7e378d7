namespace LuksVirt.Core.Usb;

/// <summary>
/// Something on a stick the reader passed over so that the rest could still be read: a directory
/// entry with an invalid 8.3 name, a directory whose chain loops or runs off the device, a
/// partition without a FAT file system, the tail of a truncated volume.
/// </summary>
/// <param name="Where">What was skipped: a '/'-separated path from the volume's root ("/" for the
/// root directory; an entry whose name cannot be shown is "(entry at slot N)" of its directory),
/// or a partition ("partition 5"). Raw names from the stick: sanitise before logging.</param>
/// <param name="Reason">Why, and what was left out; built from fixed text and numbers only.</param>
internal sealed record SkippedOnStick(string Where, string Reason);
