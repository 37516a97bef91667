import Foundation

/// Opened once by the test; attempts waiting on it go on.
final class Gate: Sendable {
    private let flag = Flag()
    func open() { flag.set() }
    var isOpen: Bool { flag.isSet }
}
