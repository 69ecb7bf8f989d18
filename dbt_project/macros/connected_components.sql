{#- Connected components of a graph, in the database (PL/pgSQL), for identity resolution.

    Why a function: dbt-postgres runs one statement per model and clustering needs a loop until
    nothing changes. A recursive CTE explodes on keys shared by many records, and plain label
    propagation needs as many passes as the longest chain. This is min-label hooking with pointer
    jumping: every pass hooks each component's root onto the smallest root it touches, then
    shortcuts every node to its root, so a chain of n records converges in O(log n) passes.

    Input: the edges as two arrays of node ids (sources[i] — targets[i]), so a model (and a dbt
    unit test's mocked refs) can pass any relation. Output: (node, component, passes) for every
    node on an edge; component is the smallest node id of its component, passes how many passes
    the function needed (the same on every row). The name carries a version: a change of the
    algorithm is a new function, so concurrent dbt invocations never replace one in use. -#}
{% macro create_connected_components_function() -%}
create schema if not exists intermediate;
do $outer$
begin
    if to_regprocedure('intermediate.leadflow_connected_components_v1(bigint[], bigint[])') is null then
        create function intermediate.leadflow_connected_components_v1(sources bigint[], targets bigint[])
        returns table (node bigint, component bigint, passes integer)
        language plpgsql
        as $function$
        declare
            hooked bigint;
            pass_count integer := 0;
        begin
            drop table if exists pg_temp.leadflow_cc_edges;
            drop table if exists pg_temp.leadflow_cc_parent;
            create temp table leadflow_cc_edges on commit drop as
                select distinct least(e.a, e.b) as a, greatest(e.a, e.b) as b
                from unnest(sources, targets) as e (a, b)
                where e.a <> e.b;
            create temp table leadflow_cc_parent on commit drop as
                select n.id as node, n.id as parent
                from (select e.a from leadflow_cc_edges as e union select e.b from leadflow_cc_edges as e) as n (id);
            create unique index on leadflow_cc_parent (node);
            analyze leadflow_cc_edges;
            analyze leadflow_cc_parent;
            loop
                pass_count := pass_count + 1;
                -- hook: the larger root of every edge between two components points at the smaller
                update leadflow_cc_parent as p
                set parent = h.new_parent
                from (
                    select greatest(pa.parent, pb.parent) as root, min(least(pa.parent, pb.parent)) as new_parent
                    from leadflow_cc_edges as e
                    inner join leadflow_cc_parent as pa on pa.node = e.a
                    inner join leadflow_cc_parent as pb on pb.node = e.b
                    where pa.parent <> pb.parent
                    group by 1
                ) as h
                where p.node = h.root and h.new_parent < p.parent;
                get diagnostics hooked = row_count;
                exit when hooked = 0;
                -- shortcut: point every node at its root (pointer jumping, halves the depth each time)
                loop
                    update leadflow_cc_parent as p
                    set parent = g.parent
                    from leadflow_cc_parent as g
                    where p.parent = g.node and g.parent < p.parent;
                    exit when not found;
                end loop;
            end loop;
            return query select c.node, c.parent, pass_count from leadflow_cc_parent as c;
        end;
        $function$;
    end if;
exception
    when unique_violation or duplicate_function then null;  -- another invocation created it just now
end;
$outer$
{%- endmacro %}
