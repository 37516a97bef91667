/// The outcome of an async throwing call, kept to be looked at later (racing tasks' results).
extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
