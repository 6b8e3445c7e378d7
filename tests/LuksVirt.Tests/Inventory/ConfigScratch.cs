using LuksVirt.Core.Inventory;
using LuksVirt.Tests.Infrastructure;

namespace LuksVirt.Tests.Inventory;

/// <summary>
/// A temporary host layout for configuration tests: containers under <c>{C}</c>
/// (<c>c1.raw</c>..<c>c4.raw</c> exist), link directory <c>{I}</c>, both inside <c>{D}</c>. Config
/// texts use these placeholders so that their line numbers are what the test reads.
/// </summary>
internal sealed class ConfigScratch : IDisposable
{
    private readonly TempDirectory _directory = new("inventory");

    public ConfigScratch()
    {
        Directory.CreateDirectory(Containers);
        Directory.CreateDirectory(Images);
        foreach (var name in new[] { "c1.raw", "c2.raw", "c3.raw", "c4.raw" })
        {
            File.WriteAllBytes(Path.Combine(Containers, name), new byte[16]);
        }
    }

    public string Root => _directory.Path;

    public string Containers => Path.Combine(Root, "crypted");

    public string Images => Path.Combine(Root, "images");

    public string ConfigPath => Path.Combine(Root, "luksvirt.xml");

    public string Expand(string text) => text
        .Replace("{C}", Containers, StringComparison.Ordinal)
        .Replace("{I}", Images, StringComparison.Ordinal)
        .Replace("{D}", Root, StringComparison.Ordinal);

    public string Write(string text)
    {
        File.WriteAllText(ConfigPath, Expand(text));
        return ConfigPath;
    }

    public InventoryConfig Load(string text) => InventoryConfigLoader.Load(Write(text));

    public ConfigurationException LoadFails(string text) =>
        Assert.Throws<ConfigurationException>(() => Load(text));

    public void Dispose() => _directory.Dispose();
}
