using System.Text;
using LuksVirt.Core.Inventory;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Inventory;

/// <summary>
/// A hostile configuration file costs a bounded read and a bounded parse, and its values are never
/// echoed unbounded (reliability.md "Hostile review" 7 and 8): a 50 MB guest name once took a
/// minute and 2.5 GB and went whole into stderr and the log; 100,000 nested elements took 18 s.
/// </summary>
public sealed class ConfigLimitTests
{
    private const string Head = "<vms allowed-image-dirs='{I}'>\n";

    [Fact]
    public void A_file_over_1_MiB_is_refused_before_it_is_parsed()
    {
        using var scratch = new ConfigScratch();
        var name = new string('n', InventoryConfigLoader.MaxFileBytes);

        var error = scratch.LoadFails($"<vms><vm name='{name}'/></vms>");

        Assert.Equal($"{scratch.ConfigPath}: the file is larger than 1024 KiB, which no configuration needs; name the right file with --config", error.Message);
        Assert.Null(error.Line);
    }

    [Fact]
    public void A_file_of_exactly_1_MiB_is_read()
    {
        using var scratch = new ConfigScratch();
        var shell = "<vms></vms>";
        var text = "<vms>" + new string(' ', InventoryConfigLoader.MaxFileBytes - shell.Length) + "</vms>";

        var config = scratch.Load(text);

        Assert.Empty(config.Guests);
    }

    [Fact]
    public void Nesting_deeper_than_32_levels_is_refused_with_its_line()
    {
        using var scratch = new ConfigScratch();
        // <vms> is level 1; 32 more levels of unknown elements below it, the last on line 3.
        var text = "<vms>\n" + string.Concat(Enumerable.Repeat("<x>", InventoryConfigLoader.MaxDepth - 2)) + "\n<x><x/></x>"
            + string.Concat(Enumerable.Repeat("</x>", InventoryConfigLoader.MaxDepth - 2)) + "</vms>";

        var error = scratch.LoadFails(text);

        Assert.Equal($"{scratch.ConfigPath}:3: elements are nested more than 32 levels deep; a configuration has four (<vms><vm><luks><disk>)", error.Message);
    }

    [Fact]
    public void Nesting_of_exactly_32_levels_is_read()
    {
        using var scratch = new ConfigScratch();
        var text = "<vms>" + string.Concat(Enumerable.Repeat("<x>", InventoryConfigLoader.MaxDepth - 1))
            + string.Concat(Enumerable.Repeat("</x>", InventoryConfigLoader.MaxDepth - 1)) + "</vms>";

        var config = scratch.Load(text);

        Assert.Empty(config.Guests);
    }

    [Fact]
    public void Hundred_thousand_nested_levels_are_refused_at_the_bound()
    {
        using var scratch = new ConfigScratch();
        const int Levels = 100_000;
        var text = "<vms>" + string.Concat(Enumerable.Repeat("<x>", Levels)) + string.Concat(Enumerable.Repeat("</x>", Levels)) + "</vms>";

        var error = scratch.LoadFails(text);

        Assert.Contains("nested more than 32 levels deep", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guest_name_over_255_bytes_is_refused_and_echoed_cut_short()
    {
        using var scratch = new ConfigScratch();
        var name = "g" + new string('n', 100_000);

        var error = scratch.LoadFails(Head + $"<vm\n name='{name}'/></vms>");

        Assert.Equal(3, error.Line);
        Assert.Equal($"{scratch.ConfigPath}:3: <vm name='g{new string('n', 63)}…'> is 100001 bytes long; a libvirt domain name has at most 255 (it names a file); write the name 'virsh list --all' shows", error.Message);
    }

    [Fact]
    public void A_guest_name_of_255_bytes_is_accepted()
    {
        using var scratch = new ConfigScratch();
        var name = new string('n', InventoryConfigParser.MaxNameBytes);

        var config = scratch.Load(Head + $"<vm name='{name}'/></vms>");

        Assert.Equal(name, Assert.Single(config.Guests).Name);
    }

    [Fact]
    public void A_guest_name_with_a_control_character_is_refused_without_echoing_it()
    {
        using var scratch = new ConfigScratch();

        var error = scratch.LoadFails(Head + "<vm name='a&#9;[2Jb'/></vms>");

        Assert.Equal($"{scratch.ConfigPath}:2: <vm name='a?[2Jb'> contains a control character; write the name 'virsh list --all' shows, on one line", error.Message);
    }

    [Fact]
    public void A_duplicate_long_name_is_echoed_cut_short()
    {
        using var scratch = new ConfigScratch();
        var name = new string('d', 200);

        var error = scratch.LoadFails(Head + $"<vm name='{name}'/>\n<vm name='{name}'/></vms>");

        Assert.Equal($"{scratch.ConfigPath}:3: duplicate <vm name='{new string('d', 64)}…'>, already defined at line 2; merge the two entries into one", error.Message);
    }

    [Fact]
    public void A_path_over_PATH_MAX_is_refused_and_echoed_cut_short()
    {
        using var scratch = new ConfigScratch();
        var source = "/" + new string('p', InventoryConfigParser.MaxPathBytes);

        var error = scratch.LoadFails(Head + $"<vm name='a'><luks>\n<disk source='{source}' target='{{I}}/a.raw'/></luks></vm></vms>");

        Assert.Equal(3, error.Line);
        Assert.Contains("source '/ppp", error.Message, StringComparison.Ordinal);
        Assert.Contains("p…p", error.Message, StringComparison.Ordinal);
        Assert.Contains("ppp' is 4096 bytes long; a path has at most 4095 (PATH_MAX); write a shorter path", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 400, error.Message);
    }

    [Fact]
    public void Unknown_names_and_values_are_echoed_cut_short()
    {
        using var scratch = new ConfigScratch();
        var element = "e" + new string('x', 10_000);
        var order = "o" + new string('9', 10_000);

        var config = scratch.Load($"<vms>\n<{element}/>\n</vms>");
        var orderError = scratch.LoadFails($"<vms>\n<vm name='a' order='{order}'/>\n</vms>");
        var rootError = scratch.LoadFails($"<{element}/>");

        Assert.Equal($"{scratch.ConfigPath}:2: unknown element <e{new string('x', 63)}…> inside <vms> ignored", Assert.Single(config.Warnings));
        Assert.StartsWith($"{scratch.ConfigPath}:2: order='o{new string('9', 63)}…' is not a whole number", orderError.Message, StringComparison.Ordinal);
        Assert.StartsWith($"{scratch.ConfigPath}:1: the root element is <e{new string('x', 63)}…>, expected <vms>", rootError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_parser_message_quoting_the_file_is_cut_short()
    {
        using var scratch = new ConfigScratch();
        var element = "e" + new string('x', 10_000);

        var error = scratch.LoadFails($"<vms>\n<{element}>\n</vms>");

        Assert.StartsWith($"{scratch.ConfigPath}:", error.Message, StringComparison.Ordinal);
        Assert.Contains("malformed XML: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 300), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Thousands_of_warnings_are_kept_to_twenty_and_a_count()
    {
        using var scratch = new ConfigScratch();
        var text = new StringBuilder("<vms>\n");
        for (var i = 0; i < 5000; i++)
        {
            text.Append("<unknown/>\n");
        }

        var config = scratch.Load(text.Append("</vms>").ToString());

        Assert.Equal(InventoryConfigParser.MaxWarnings + 1, config.Warnings.Count);
        Assert.Equal($"{scratch.ConfigPath}: 4980 more warning(s) like these left out", config.Warnings[^1]);
    }

    [Fact]
    public async Task A_fifo_is_refused_at_once_and_never_opened_for_reading()
    {
        using var directory = new TempDirectory("inventory");
        var fifo = directory.PathOf("luksvirt.xml");
        ToolRunner.Run("mkfifo", fifo).EnsureSuccess("mkfifo");

        // On a blocking open this call would wait for a writer; the test then opens the FIFO for
        // writing itself, so that a regression fails instead of hanging the suite.
        var load = Task.Run(() => Assert.Throws<ConfigurationException>(() => InventoryConfigLoader.Load(fifo)));
        if (await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(20))) != load)
        {
            using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            Assert.Fail("loading a FIFO as the configuration blocked");
        }

        Assert.Equal($"{fifo}: is a FIFO, not a regular file; name the XML configuration file", (await load).Message);
    }

    [Fact]
    public void A_symlink_to_a_regular_file_is_followed_and_one_to_a_fifo_refused()
    {
        using var scratch = new ConfigScratch();
        var real = scratch.Write("<vms/>");
        var link = Path.Combine(scratch.Root, "link.xml");
        File.CreateSymbolicLink(link, real);
        var fifo = Path.Combine(scratch.Root, "fifo");
        ToolRunner.Run("mkfifo", fifo).EnsureSuccess("mkfifo");
        var fifoLink = Path.Combine(scratch.Root, "fifo-link.xml");
        File.CreateSymbolicLink(fifoLink, fifo);

        Assert.True(InventoryConfigLoader.Load(link).FileExisted);
        var error = Assert.Throws<ConfigurationException>(() => InventoryConfigLoader.Load(fifoLink));
        Assert.Contains("is a FIFO, not a regular file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_vm_names_are_echoed_cut_short_and_at_most_ten()
    {
        var names = Enumerable.Range(0, 12).Select(i => $"guest{i}-" + new string('z', 1000)).ToList();

        var error = Assert.Throws<UnknownGuestException>(() => InventoryBuilder.Build(InventoryConfig.Empty("/etc/luksvirt/luksvirt.xml"), [], names));

        Assert.StartsWith($"unknown guest 'guest0-{new string('z', 57)}…', 'guest1-", error.Message, StringComparison.Ordinal);
        Assert.Contains("…' and 2 more: no configuration file at /etc/luksvirt/luksvirt.xml", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 1200, error.Message);
    }
}
