
namespace LuksVirt.Core.Migration;

/// <summary>
/// Where a LUKS payload lies in its container and how it is cut into encryption sectors.
/// </summary>
/// <param name="PayloadOffset">Byte offset of the payload (the LUKS data offset).</param>
/// <param name="SectorSize">Encryption sector size in bytes (512 for LUKS1).</param>
/// <param name="PlaintextLength">Bytes of plaintext; the payload is this rounded up to whole
/// sectors, the padding being zeros that the guest sees past the source's end.</param>
internal sealed record PayloadGeometry(long PayloadOffset, int SectorSize, long PlaintextLength)
{
    public long PayloadLength => (PlaintextLength + SectorSize - 1) / SectorSize * SectorSize;

    /// <summary>Size the container must have: header area plus payload.</summary>
    public long ContainerLength => PayloadOffset + PayloadLength;
}
