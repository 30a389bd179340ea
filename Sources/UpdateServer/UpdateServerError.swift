/// A request the server refuses, with the HTTP status the JSON API answers it with.
public enum UpdateServerError: Error, CustomStringConvertible {
    case badRequest(String)
    case notFound(String)
    case conflict(String)
    case tooLarge(String)

    public var description: String {
        switch self {
        case .badRequest(let message), .notFound(let message), .conflict(let message), .tooLarge(let message): message
        }
    }

    public var httpStatus: Int {
        switch self {
        case .badRequest: 400
        case .notFound: 404
        case .conflict: 409
        case .tooLarge: 413
        }
    }
}
