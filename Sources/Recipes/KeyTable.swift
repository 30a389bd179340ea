/// Whether a key may, must or must not be written, and what it is when left out.
enum Presence {
    case required
    case optional
    /// Left out, the key reads as if this YAML text had been written.
    case defaulted(String)
    /// Written, it is an error; the text says why.
    case forbidden(String)

    var doc: String {
        switch self {
        case .required: return "required"
        case .optional: return "optional"
        case .defaulted(let yaml): return "default `\(yaml)`"
        case .forbidden(let why): return "not allowed: \(why)"
        }
    }
}

/// A presence that may depend on keys decoded before it (a recipe's `kind`).
struct PresenceRule<Model> {
    let doc: String
    let resolve: (Model) -> Presence

    static var required: Self { always(.required) }
    static var optional: Self { always(.optional) }
    static func defaulted(_ yaml: String) -> Self { always(.defaulted(yaml)) }
    static func forbidden(_ why: String) -> Self { always(.forbidden(why)) }
    static func always(_ presence: Presence) -> Self { Self(doc: presence.doc) { _ in presence } }
    static func when(_ doc: String, _ resolve: @escaping (Model) -> Presence) -> Self { Self(doc: doc, resolve: resolve) }
}

/// One key of a recipe or board mapping, declared once: its name, type, presence and help text
/// make the reference, and its parser fills the model.
struct ConfigKey<Model> {
    let name: String
    let type: String
    let expected: String
    let presence: PresenceRule<Model>
    let help: String
    let decode: (YAMLValue, inout Model) throws -> Void

    init<Value>(_ name: String, _ type: ValueType<Value>, _ presence: PresenceRule<Model>, _ help: String,
                _ field: WritableKeyPath<Model, Value>) {
        self.name = name
        self.type = type.doc
        self.expected = type.expected
        self.presence = presence
        self.help = help
        decode = { value, model in model[keyPath: field] = try type.parse(value) }
    }

    init<Value>(_ name: String, _ type: ValueType<Value>, _ presence: PresenceRule<Model>, _ help: String,
                _ field: WritableKeyPath<Model, Value?>) {
        self.init(name, ValueType<Value?>(doc: type.doc, expected: type.expected, plural: type.plural) {
            try type.parse($0)
        }, presence, help, field)
    }

    /// An optional key whose value must also suit keys before it in the table, which are decoded
    /// first (as for a `PresenceRule`): `usr.compression` depends on `usr.filesystem`. `check`
    /// throws `InvalidValue`, reported at the value like the type's own refusals.
    init<Value>(_ name: String, _ type: ValueType<Value>, _ presence: PresenceRule<Model>, _ help: String,
                _ field: WritableKeyPath<Model, Value?>, suiting check: @escaping (Value, Model) throws -> Void) {
        self.name = name
        self.type = type.doc
        self.expected = type.expected
        self.presence = presence
        self.help = help
        decode = { value, model in
            let earlier = model
            model[keyPath: field] = try type.checked { parsed, _ in try check(parsed, earlier) }.parse(value)
        }
    }

    /// A key that people might expect but that must come from elsewhere.
    init(forbidden name: String, because why: String, _ help: String) {
        self.name = name
        type = "—"
        expected = ""
        presence = .forbidden(why)
        self.help = help
        decode = { _, _ in }
    }
}

/// A model decoded from a YAML mapping by its key table.
protocol ConfigModel: LocatedConfiguration {
    /// A model with placeholder values, which the table then fills; `mapping` is where it is written.
    init(at mapping: YAMLValue)
    var keyLocations: [String: SourceLocation] { get set }
    static var keys: KeyTable<Self> { get }
}

struct KeyTable<Model: ConfigModel> {
    /// How messages name the mapping: "recipe", "'os'", "partition".
    let context: String
    let keys: [ConfigKey<Model>]

    var names: [String] { keys.map(\.name) }

    /// Checks every key written (document order), then decodes the table's keys in table order,
    /// so a key whose presence depends on another (`packages` on `kind`) comes after it.
    func decode(_ mapping: YAMLValue) throws -> Model {
        let pairs = try mapping.pairs(expected: "a mapping of \(context) keys")
        for (key, _) in pairs where !names.contains(key.value) {
            throw ConfigError(location: key.location,
                              message: "unknown key '\(key.value)' in \(context) (known keys: \(names.joined(separator: ", ")))")
        }
        try rejectDuplicates(pairs.map(\.key), by: \.value, at: \.location) { "duplicate key '\($0)' in \(context)" }

        var model = Model(at: mapping)
        for key in keys {
            let written = pairs.first { $0.key.value == key.name }
            switch (key.presence.resolve(model), written) {
            case (.forbidden(let why), let written?):
                throw ConfigError(location: written.key.location,
                                  message: "key '\(key.name)' is not allowed in \(context): \(why)")
            case (.required, nil):
                throw mapping.error("missing required key '\(key.name)' in \(context) (\(key.expected))")
            case (.defaulted(let yaml), nil):
                try key.decode(mapping.substitute(yaml: yaml, key: key.name), &model)
            case (.optional, nil), (.forbidden, nil):
                continue
            case (_, let written?):
                try key.decode(written.value, &model)
                model.keyLocations[key.name] = written.value.location
            }
        }
        return model
    }

    /// The reference table: one row a key.
    var markdown: String {
        let header = "| key | type | presence | meaning |\n|---|---|---|---|\n"
        return header + keys.map { key in
            "| `\(key.name)` | \(key.type) | \(key.presence.doc) | \(key.help) |"
        }.joined(separator: "\n") + "\n"
    }
}
