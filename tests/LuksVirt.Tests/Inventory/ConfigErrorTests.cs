
namespace LuksVirt.Tests.Inventory;

/// <summary>Every refusal names file, exact line and fix: "FILE:LINE: problem; fix".</summary>
public sealed class ConfigErrorTests
{
    private const string Head = "<vms allowed-image-dirs='{I}'>\n";

    [Theory]
    // Malformed XML: the line comes from the XML parser.
    [InlineData("<vms>\n  <vm name='a'>\n</vms>\n", 3, "malformed XML: ")]
    [InlineData("<!DOCTYPE vms [<!ENTITY e 'x'>]>\n<vms/>", 1, "malformed XML: ")]
    [InlineData("", 1, "malformed XML: ")]
    // Structure.
    [InlineData("<?xml version='1.0'?>\n<machines/>", 2, "the root element is <machines>, expected <vms> (the classic format: <vms><vm name='...'><luks><disk source='...' target='...'/></luks></vm></vms>)")]
    [InlineData("<vms xmlns='urn:x'/>", 1, "the root element is <{urn:x}vms>, expected <vms>")]
    [InlineData(Head + "<vm>\n</vm></vms>", 2, "<vm> has no name; add name='DOMAIN' (the libvirt domain name, as 'virsh list --all' shows it)")]
    [InlineData(Head + "<vm name=''/></vms>", 2, "<vm> has no name;")]
    [InlineData(Head + "<vm name='a'/>\n<vm name='b'/>\n<vm\n name='a'/></vms>", 5, "duplicate <vm name='a'>, already defined at line 2; merge the two entries into one")]
    // Order.
    [InlineData(Head + "<vm name='a'\n order='-1'/></vms>", 3, "order='-1' is not a whole number from 0 to 2147483647; write e.g. order='10' (lower starts first)")]
    [InlineData(Head + "<vm name='a' order='abc'/></vms>", 2, "order='abc' is not a whole number")]
    [InlineData(Head + "<vm name='a' order='1.5'/></vms>", 2, "order='1.5' is not a whole number")]
    [InlineData(Head + "<vm name='a' order=' 1'/></vms>", 2, "order=' 1' is not a whole number")]
    [InlineData(Head + "<vm name='a' order=''/></vms>", 2, "order='' is not a whole number")]
    [InlineData(Head + "<vm name='a' order='2147483648'/></vms>", 2, "order='2147483648' is not a whole number")]
    // Missing attributes.
    [InlineData(Head + "<vm name='a'><luks>\n<disk target='{I}/a.raw'/></luks></vm></vms>", 3, "<disk> has no source; add source='/path/to/container' (the LUKS container file or block device)")]
    [InlineData(Head + "<vm name='a'><luks>\n\n<disk source='{C}/c1.raw'/></luks></vm></vms>", 4, "<disk> has no target; add target='/var/lib/libvirt/images/NAME' (the path the domain XML uses for this disk)")]
    // Paths.
    [InlineData(Head + "<vm name='a'><luks><disk\n source='crypted/c1.raw'\n target='{I}/a.raw'/></luks></vm></vms>", 3, "source 'crypted/c1.raw' is a relative path; write it absolute (starting with '/')")]
    [InlineData(Head + "<vm name='a'><luks><disk\n source='{C}/c1.raw'\n target='a.raw'/></luks></vm></vms>", 4, "target 'a.raw' is a relative path; write it absolute (starting with '/')")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/../crypted/c1.raw' target='{I}/a.raw'/></luks></vm></vms>", 2, "source '{C}/../crypted/c1.raw' contains '..'; write the path without parent-directory references")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw'\n target='{I}/../images/a.raw'/></luks></vm></vms>", 3, "target '{I}/../images/a.raw' contains '..'; write the path without parent-directory references")]
    [InlineData(Head + "<vm name='a'><luks><disk source='' target='{I}/a.raw'/></luks></vm></vms>", 2, "source is empty; write an absolute path")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw&#10;' target='{I}/a.raw'/></luks></vm></vms>", 2, "source contains a control character; write the path on one line without tabs or newlines")]
    [InlineData(Head + "<vm name='a'><luks><disk source='/' target='{I}/a.raw'/></luks></vm></vms>", 2, "source '/' is the root directory; name a file or directory below it")]
    // Containers.
    [InlineData(Head + "<vm name='a'><luks>\n<disk source='{C}/nope.raw' target='{I}/a.raw'/></luks></vm></vms>", 3, "container '{C}/nope.raw' does not exist; create it (luksvirt create) or fix the path")]
    [InlineData(Head + "<vm name='a'><luks>\n<disk source='{C}' target='{I}/a.raw'/></luks></vm></vms>", 3, "source '{C}' is a directory; name the LUKS container file or block device")]
    [InlineData(Head + "<vm name='a'><luks>\n<disk source='{C}/dangling.raw' target='{I}/a.raw'/></luks></vm></vms>", 3, "container '{C}/dangling.raw' does not exist; create it (luksvirt create) or fix the path")]
    [InlineData(Head + "<vm name='a'><luks>\n<disk source='{C}/loop.raw' target='{I}/a.raw'/></luks></vm></vms>", 3, "container '{C}/loop.raw' does not exist; create it (luksvirt create) or fix the path")]
    // Allowed image directories.
    [InlineData("<vms>\n<vm name='a'><luks><disk source='{C}/c1.raw'\n target='{I}/a.raw'/></luks></vm></vms>", 3, "target '{I}/a.raw' is outside the allowed image directories (/var/lib/libvirt/images); move the link there or add its directory to allowed-image-dirs on <vms>")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw'\n target='{I}-evil/a.raw'/></luks></vm></vms>", 3, "target '{I}-evil/a.raw' is outside the allowed image directories ({I});")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw'\n target='{I}'/></luks></vm></vms>", 3, "target '{I}' is outside the allowed image directories ({I});")]
    [InlineData("<vms\n allowed-image-dirs='{I}::/srv'/>", 2, "allowed-image-dirs='{I}::/srv' has an empty entry; separate absolute directories with single ':'")]
    [InlineData("<vms\n allowed-image-dirs='images'/>", 2, "allowed-image-dirs entry 'images' is a relative path; write it absolute (starting with '/')")]
    // Duplicates.
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw' target='{I}/a.raw'/></luks></vm>\n<vm name='b'><luks>\n<disk source='{C}/c1.raw' target='{I}/b.raw'/></luks></vm></vms>", 4, "duplicate disk: source '{C}/c1.raw' is already a source at line 2; each container and each link may appear once in the whole file")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw' target='{I}/a.raw'/>\n<disk source='{C}/c2.raw'\n target='{I}/a.raw'/></luks></vm></vms>", 4, "duplicate disk: target '{I}/a.raw' is already a target at line 2;")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw' target='{I}/a.raw'/>\n<disk source='{C}/./c1.raw' target='{I}/b.raw'/></luks></vm></vms>", 3, "duplicate disk: source '{C}/c1.raw' is already a source at line 2;")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw' target='{C}/c1.raw'/></luks></vm></vms>", 2, "target '{C}/c1.raw' is outside the allowed image directories")]
    [InlineData("<vms allowed-image-dirs='{I}:{C}'>\n<vm name='a'><luks><disk source='{C}/c1.raw' target='{I}/a.raw'/>\n<disk source='{C}/c2.raw' target='{C}/c1.raw'/></luks></vm></vms>", 3, "duplicate disk: target '{C}/c1.raw' is already a source at line 2;")]
    [InlineData("<vms allowed-image-dirs='{I}:{D}'>\n<vm name='a'><luks><disk source='{C}/c1.raw' target='{I}/a.raw'/>\n<disk source='{C}/c2.raw' target='{D}/a.raw'/></luks></vm></vms>", 3, "target '{D}/a.raw' gives the mapping name 'luks-a.raw', already used by the target at line 2; give the link files different names")]
    // Backend.
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw' target='{I}/a.raw'\n backend='qemu'/></luks></vm></vms>", 3, "backend='qemu' is unknown; use backend='dmcrypt' (the default) or backend='native'")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw' target='{I}/a.raw' backend='Native'/></luks></vm></vms>", 2, "backend='Native' is unknown;")]
    [InlineData(Head + "<vm name='a'><luks><disk backend='native' source='{C}/c1.raw'\n target='{I}/a.raw'/></luks></vm></vms>", 3, "a native disk has no link target (QEMU opens the container itself); remove target= or use backend='dmcrypt'")]
    // Mapping names.
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw'\n target='{I}/my disk.raw'/></luks></vm></vms>", 3, "target '{I}/my disk.raw' gives the mapping name 'luks-my disk.raw', which is invalid: it contains ' '; only A-Z a-z 0-9 . _ + - are allowed; rename the target file")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw'\n target='{I}/d\u00e9j\u00e0.raw'/></luks></vm></vms>", 3, "target '{I}/d\u00e9j\u00e0.raw' gives the mapping name 'luks-d\u00e9j\u00e0.raw', which is invalid: it contains '\u00e9';")]
    [InlineData(Head + "<vm name='a'><luks><disk source='{C}/c1.raw'\n target='{I}/x:y.raw'/></luks></vm></vms>", 3, "target '{I}/x:y.raw' gives the mapping name 'luks-x:y.raw', which is invalid: it contains ':';")]
    public void Refusal_names_file_line_and_fix(string xml, int line, string expected)
    {
        using var scratch = new ConfigScratch();
        File.CreateSymbolicLink(scratch.Expand("{C}/dangling.raw"), scratch.Expand("{C}/gone.raw"));
        File.CreateSymbolicLink(scratch.Expand("{C}/loop.raw"), scratch.Expand("{C}/loop.raw"));

        var error = scratch.LoadFails(xml);

        Assert.StartsWith($"{scratch.ConfigPath}:{line}: " + scratch.Expand(expected), error.Message, StringComparison.Ordinal);
        Assert.Equal(line, error.Line);

        Assert.Equal(scratch.ConfigPath, error.FilePath);
    }

    [Fact]
    public void A_mapping_name_over_127_bytes_is_refused()
    {
        using var scratch = new ConfigScratch();
        var name = new string('n', 123); // "luks-" + 123 = 128 bytes: one too many for DM_NAME_LEN
        var error = scratch.LoadFails($"<vms allowed-image-dirs='{{I}}'>\n<vm name='a'><luks><disk source='{{C}}/c1.raw'\n target='{{I}}/{name}'/></luks></vm></vms>");

        Assert.Equal(3, error.Line);
        Assert.EndsWith("which is invalid: it is 128 bytes long, the device mapper allows at most 127; rename the target file", error.Message, StringComparison.Ordinal);
    }
}
