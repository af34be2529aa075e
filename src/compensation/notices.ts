/** The customers an applied run messages: who is told, and whether nothing is due to them. */

/**
 * Everyone a run tells, with whether nothing is due to them: the customers with lines (told
 * what they got) and those the preview stored as owed nothing. `ws` and `run` are placeholders;
 * `customers`, a condition on `customer_id`, narrows it to some.
 */
export const toldSql = (ws: string, run: string, customers = "true") =>
  `select customer_id, bool_and(nothing_due) as nothing_due from (
     select customer_id, false as nothing_due from comp_run_lines where workspace_id = ${ws} and run_id = ${run} and ${customers}
     union all
     select customer_id, true from comp_run_notices where workspace_id = ${ws} and run_id = ${run} and ${customers}
   ) told group by customer_id`;
