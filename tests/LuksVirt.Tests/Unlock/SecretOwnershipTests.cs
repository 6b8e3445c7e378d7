using LuksVirt.Core.Activation;

namespace LuksVirt.Tests.Unlock;

/// <summary>Issue 10, items 3 and 4: a secret is LuksVirt's only when it is ephemeral AND
/// private AND carries the marker for exactly its usage volume; no one mark alone is enough.</summary>
public sealed class SecretOwnershipTests
{
    private const string Path = "/var/lib/libvirt/images/db.luks";
    private static readonly Guid Uuid = Guid.Parse("7a4c1b1e-5d0f-4d8e-9b7a-0c1d2e3f4a5b");

    [Fact]
    public void What_LuksVirt_defines_is_recognised_with_its_container()
    {
        Assert.True(SecretOwnership.IsLuksVirts(SecretOwnership.Xml(Uuid, Path), out var container));
        Assert.Equal(Path, container);
    }

    [Fact]
    public void Libvirts_own_rendering_of_it_is_recognised()
    {
        // As virSecretGetXMLDesc returns it: indented, attributes in libvirt's order.
        var xml = $"""
            <secret ephemeral='yes' private='yes'>
              <uuid>{Uuid}</uuid>
              <description>LuksVirt: key of {Path}</description>
              <usage type='volume'>
                <volume>{Path}</volume>
              </usage>
            </secret>
            """;

        Assert.True(SecretOwnership.IsLuksVirts(xml, out var container));
        Assert.Equal(Path, container);
    }

    [Theory]
    [InlineData("no", "yes", "LuksVirt: key of " + Path, "volume", Path)]                    // persistent
    [InlineData("yes", "no", "LuksVirt: key of " + Path, "volume", Path)]                    // readable
    [InlineData("yes", "yes", "an administrator's key", "volume", Path)]                     // no marker
    [InlineData("yes", "yes", "LuksVirt: key of /elsewhere.luks", "volume", Path)]           // marker for another volume
    [InlineData("yes", "yes", "luksvirt: key of " + Path, "volume", Path)]                   // not the marker
    [InlineData("yes", "yes", "LuksVirt: key of " + Path, "ceph", Path)]                     // not a volume secret
    public void Anything_else_is_not_LuksVirts(string ephemeral, string isPrivate, string description, string usageType, string volume)
    {
        var xml = $"<secret ephemeral='{ephemeral}' private='{isPrivate}'><uuid>{Uuid}</uuid><description>{description}</description>" +
            $"<usage type='{usageType}'><volume>{volume}</volume></usage></secret>";

        Assert.False(SecretOwnership.IsLuksVirts(xml, out _));
    }

    [Theory]
    [InlineData("<secret ephemeral='yes' private='yes'><uuid>x</uuid></secret>")]           // no description, no usage
    [InlineData("<secret ephemeral='yes' private='yes'><description>LuksVirt: key of </description><usage type='volume'><volume></volume></usage></secret>")]
    [InlineData("<secret ephemeral='yes' private='yes'")]                                     // not XML
    [InlineData("<!DOCTYPE secret [<!ENTITY p '/x'>]><secret ephemeral='yes' private='yes'><description>LuksVirt: key of &p;</description><usage type='volume'><volume>&p;</volume></usage></secret>")]
    public void Incomplete_or_unparsable_xml_is_not_LuksVirts(string xml)
    {
        Assert.False(SecretOwnership.IsLuksVirts(xml, out _));
    }
}
