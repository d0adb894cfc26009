export interface FleetOptions {
  sizes: number[];
}
export function fleetOptionsFromArgs(_argv: string[]): FleetOptions {
  return { sizes: [] };
}
export async function runFleetBench(_o: FleetOptions): Promise<number> {
  return 0;
}
