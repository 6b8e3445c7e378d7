using System.CommandLine;
using LuksVirt.Core.Inventory;

namespace LuksVirt.Cli;

/// <summary>The <c>--backend</c> option of create and encrypt-vm.</summary>
internal static class BackendOption
{
    public static Option<string> Create(string description)
    {
        var option = new Option<string>("--backend") { Description = description, DefaultValueFactory = _ => "auto" };
        option.AcceptOnlyFromAmong("auto", "native", "dmcrypt");
        return option;
    }

    /// <summary>Null for auto.</summary>
    public static DiskBackend? Parse(string? value) => value switch
    {
        "native" => DiskBackend.Native,
        "dmcrypt" => DiskBackend.DmCrypt,
        _ => null,
    };
}
