/** Task queues of DESIGN.md: one activity slot per device on `sampling`; listing, summaries and reports on `control`. */
export const TASK_QUEUES = { control: 'control', sampling: 'sampling' } as const;
