/// Bounds on what the reader accepts. Omaha bodies come from the network, so every dimension that
/// costs memory or time is capped; the defaults are far above anything update_engine or Nebraska
/// sends (a request is about 1 KiB, a response with sysext packages about 2 KiB).
public struct XMLLimits: Sendable, Equatable {
    /// The whole document. go-omaha caps request bodies at 1 MiB (update-agent.md §4.3).
    public var maxBytes: Int
    /// Open elements at once; an Omaha response nests 7 deep. Never more than `depthCeiling`.
    public var maxDepth: Int
    /// Elements in the document.
    public var maxElements: Int
    /// Attributes on one element.
    public var maxAttributesPerElement: Int
    /// Element and attribute names, in bytes.
    public var maxNameLength: Int
    /// One attribute value after references are replaced, in bytes. The longest real value, a
    /// ChromeOS `MetadataSignatureRsa`, is 344 bytes; codebase URLs stay well below 2 KiB.
    public var maxAttributeLength: Int
    /// The character data of one element, in bytes.
    public var maxTextLength: Int

    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 32, maxElements: Int = 10_000,
                maxAttributesPerElement: Int = 64, maxNameLength: Int = 256,
                maxAttributeLength: Int = 8192, maxTextLength: Int = 65536) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxElements = maxElements
        self.maxAttributesPerElement = maxAttributesPerElement
        self.maxNameLength = maxNameLength
        self.maxAttributeLength = maxAttributeLength
        self.maxTextLength = maxTextLength
    }

    public static let `default` = XMLLimits()

    /// The reader keeps its own stack, but a parsed tree is still compared, hashed, written and
    /// freed recursively; this ceiling keeps that far from the thread's stack, whatever `maxDepth` says.
    public static let depthCeiling = 256
}
