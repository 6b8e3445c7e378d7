namespace LuksVirt.Core.KeySources;

/// <summary>A container the run may open, with the guests waiting for it.</summary>
/// <param name="Path">The LUKS container (image file or block device).</param>
/// <param name="Guests">The guests in scope with a disk in it that do not run yet.</param>
public sealed record ContainerInScope(string Path, IReadOnlyList<string> Guests);

/// <summary>
/// What a key source may learn of the run it serves. Sources that read what is presented (the key
/// directory, a stick) ignore it; sources that fetch keys for particular containers (Tang
/// bindings in a LUKS header) or ask a person (a passphrase prompt naming the guests waiting) use
/// it. Worked out once, when a source first asks, from the configuration the run already checked.
/// </summary>
public sealed class KeySourceContext
{
    private readonly Lazy<IReadOnlyList<ContainerInScope>> _containers;

    public KeySourceContext(Func<IReadOnlyList<ContainerInScope>> containers)
    {
        ArgumentNullException.ThrowIfNull(containers);
        _containers = new Lazy<IReadOnlyList<ContainerInScope>>(containers, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>No containers: for sources used outside a run (tests, tools).</summary>
    public static KeySourceContext None { get; } = new(() => []);

    /// <summary>The containers of the guests in scope that do not run yet, each once.</summary>
    public IReadOnlyList<ContainerInScope> Containers => _containers.Value;
}
