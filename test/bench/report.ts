export function writePerformanceReport(_root: string): void {}
